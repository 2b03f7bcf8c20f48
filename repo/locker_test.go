package repo_test

import (
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/locktest"
)

// TestFileLocker runs the lock suite against the data directory's flocks:
// each handle is another FileLocker on the directory, as another process
// opens its own files; a crash closes the files without unlocking, as the
// kernel does when a process dies.
func TestFileLocker(t *testing.T) {
	locktest.Run(t, locktest.Impl{
		New: func(t *testing.T) func() repo.Locker {
			dir := t.TempDir()
			return func() repo.Locker {
				l, err := repo.NewFileLocker(dir)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
		},
		Crash: func(t *testing.T, l repo.Locker) { repo.CrashFileLocker(l.(*repo.FileLocker)) },
	})
}
