package storage_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pierhq/pier/storage"
)

// TestOwnerCleanDead: files of a live owner survive a cleanup; files of a
// closed owner, and of a tag whose lock nobody holds, go whatever PIDs run
// (a dead writer's PID reused by another process keeps nothing alive);
// legacy PID-named files of a running PID stay.
func TestOwnerCleanDead(t *testing.T) {
	dir := t.TempDir()
	live, err := storage.NewOwner(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	gone, err := storage.NewOwner(dir)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("upload-" + live.Tag() + "-1")
	write("upload-" + gone.Tag() + "-1")
	write("upload-" + strconv.Itoa(os.Getpid()) + "-legacy")
	write("upload-ofeedfacefeedface-1") // a tag whose owner never existed here
	write("other-file")
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	if !storage.Alive(dir, live.Tag()) || storage.Alive(dir, gone.Tag()) {
		t.Fatalf("Alive: live %v, closed %v", storage.Alive(dir, live.Tag()), storage.Alive(dir, gone.Tag()))
	}
	if err := storage.CleanDead(dir, "upload-", '-'); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	left := map[string]bool{}
	for _, e := range ents {
		left[e.Name()] = true
	}
	for name, want := range map[string]bool{
		"upload-" + live.Tag() + "-1":                     true,
		"upload-" + gone.Tag() + "-1":                     false,
		"upload-" + strconv.Itoa(os.Getpid()) + "-legacy": true,
		"upload-ofeedfacefeedface-1":                      false,
		"other-file":                                      false,
		".owner-" + live.Tag() + ".lock":                  true,
		".owner-" + gone.Tag() + ".lock":                  false,
	} {
		if left[name] != want {
			t.Errorf("%s: left %v, want %v", name, left[name], want)
		}
	}
}
