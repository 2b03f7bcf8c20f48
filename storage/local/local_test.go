package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/storage"
	"github.com/pierhq/pier/storage/storagetest"
)

func newTestBackend(t *testing.T) *Backend {
	t.Helper()
	b, err := New(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend { return newTestBackend(t) })
}

func TestLayout(t *testing.T) {
	b := newTestBackend(t)
	ctx := t.Context()
	if err := b.Put(ctx, "dists/bookworm/InRelease", strings.NewReader("signed"), 6, storage.PutOptions{ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(b.Root(), "dists", "bookworm", "InRelease")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("object is not a plain file at its key's path: %v", err)
	}
	if string(data) != "signed" {
		t.Errorf("file holds %q", data)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("object mode %v, want 0644", fi.Mode().Perm())
	}
	tmp, err := os.ReadDir(filepath.Join(b.Root(), tmpDirName))
	if err != nil {
		t.Fatal(err)
	}
	tmp = slices.DeleteFunc(tmp, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), ".owner-") })
	if len(tmp) != 0 {
		t.Errorf("temporary directory not empty after Put: %d entries", len(tmp))
	}
	info, err := b.Stat(ctx, "dists/bookworm/InRelease")
	if err != nil {
		t.Fatal(err)
	}
	if info.Metadata != nil {
		t.Errorf("Metadata = %v, want nil (not kept)", info.Metadata)
	}
	// Delete removes the directories it empties, but not the root.
	if err := b.Delete(ctx, "dists/bookworm/InRelease"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.Root(), "dists")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty directories left after Delete: %v", err)
	}
	if _, err := os.Stat(b.Root()); err != nil {
		t.Errorf("root removed: %v", err)
	}
}

func TestReservedTempKey(t *testing.T) {
	b := newTestBackend(t)
	for _, key := range []string{".tmp", ".tmp/x", ".tmp/put-123"} {
		if err := b.Put(t.Context(), key, strings.NewReader("x"), 1, storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := b.Stat(t.Context(), key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	// Keys that merely look similar are fine.
	for _, key := range []string{".tmpx", "a/.tmp", ".tmp2/x"} {
		if err := b.Put(t.Context(), key, strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
			t.Errorf("Put(%q): %v", key, err)
		}
	}
}

func TestCleanTemp(t *testing.T) {
	b := newTestBackend(t)
	// Leftovers of crashed Puts: an older name format, and a writer that
	// is gone. A Put in progress in a live process stays.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { live.Process.Kill(); live.Wait() }()
	liveName := fmt.Sprintf("put.%d.123", live.Process.Pid)
	if err := os.WriteFile(filepath.Join(b.Root(), tmpDirName, liveName), []byte("in progress"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"put-1", "put-2", fmt.Sprintf("put.%d.456", dead.Process.Pid)} {
		if err := os.WriteFile(filepath.Join(b.Root(), tmpDirName, name), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Put(t.Context(), "keep", strings.NewReader("k"), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := b.List(t.Context(), "", func(i storage.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "keep" {
		t.Errorf("List shows %q, want only keep (temporary files hidden)", keys)
	}
	if err := b.CleanTemp(); err != nil {
		t.Fatal(err)
	}
	left, err := os.ReadDir(filepath.Join(b.Root(), tmpDirName))
	if err != nil {
		t.Fatal(err)
	}
	left = slices.DeleteFunc(left, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), ".owner-") })
	if len(left) != 1 || left[0].Name() != liveName {
		t.Errorf("temporary files left: %v, want only %s", left, liveName)
	}
	if _, err := b.Stat(t.Context(), "keep"); err != nil {
		t.Errorf("CleanTemp touched an object: %v", err)
	}
}

func TestNewReopensExistingRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	b1, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := b1.Put(t.Context(), "a/b", strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	b2, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Stat(t.Context(), "a/b"); err != nil {
		t.Errorf("object not visible through a second backend: %v", err)
	}
	if _, err := New(""); err == nil {
		t.Error("New with an empty root succeeded")
	}
}

func TestListSkipsNonObjects(t *testing.T) {
	b := newTestBackend(t)
	if err := b.Put(t.Context(), "real", strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(b.Root(), "link")); err != nil {
		t.Skip("no symlinks:", err)
	}
	if err := os.Mkdir(filepath.Join(b.Root(), "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := b.List(t.Context(), "", func(i storage.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "real" {
		t.Errorf("List = %q, want [real]", keys)
	}
}

func TestPutFileAcrossFileSystems(t *testing.T) {
	b := newTestBackend(t)
	src := filepath.Join(t.TempDir(), "upload")
	data := bytes.Repeat([]byte("pkg"), 100000)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	// The rename path cannot be forced to fail portably; exercise the
	// copy fallback directly.
	if err := b.putFileCopy(t.Context(), "pool/x.deb", src); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("source still there: %v", err)
	}
	o, err := b.Open(t.Context(), "pool/x.deb")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	got, err := io.ReadAll(o)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("copied content differs (%v)", err)
	}
}

func TestPutFileOnOtherFileSystem(t *testing.T) {
	// /dev/shm is tmpfs on most Linux systems, usually not the file system
	// of the test's temporary directory: this takes the EXDEV fallback.
	shm, err := os.MkdirTemp("/dev/shm", "pier-local-test-")
	if err != nil {
		t.Skip("no /dev/shm:", err)
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	b := newTestBackend(t)
	src := filepath.Join(shm, "upload")
	if err := os.WriteFile(src, []byte("across"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.PutFile(t.Context(), "pool/y.deb", src); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("source still there: %v", err)
	}
	info, err := b.Stat(t.Context(), "pool/y.deb")
	if err != nil || info.Size != 6 {
		t.Errorf("Stat = %+v, %v", info, err)
	}
}

func TestPutKeyConflicts(t *testing.T) {
	b := newTestBackend(t)
	ctx := context.Background()
	if err := b.Put(ctx, "a/b", strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// "a" is a directory and "a/b" a file: both Puts must fail cleanly.
	for _, key := range []string{"a", "a/b/c"} {
		if err := b.Put(ctx, key, strings.NewReader("y"), 1, storage.PutOptions{}); err == nil {
			t.Errorf("Put(%q) succeeded", key)
		}
	}
	left, _ := os.ReadDir(filepath.Join(b.Root(), tmpDirName))
	left = slices.DeleteFunc(left, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), ".owner-") })
	if len(left) != 0 {
		t.Errorf("failed Puts left %d temporary files", len(left))
	}
	o, err := b.Open(ctx, "a/b")
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
}

// TestPutFileNoSync moves files into place without syncing them one by one;
// Sync then makes them durable, and the objects read back.
func TestPutFileNoSync(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	b, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		src := filepath.Join(t.TempDir(), "f")
		os.WriteFile(src, []byte{byte(i)}, 0o600)
		key := fmt.Sprintf("sha256/0%d/x%d", i, i)
		if err := b.PutFileNoSync(ctx, key, src); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(src); !os.IsNotExist(err) {
			t.Errorf("source still there: %v", err)
		}
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	o, err := b.Open(ctx, "sha256/02/x2")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(o)
	o.Close()
	if len(data) != 1 || data[0] != 2 {
		t.Errorf("read %v", data)
	}
	if fi, _ := os.Stat(filepath.Join(root, "sha256/02/x2")); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
	if err := b.PutFileNoSync(ctx, "../x", filepath.Join(t.TempDir(), "f")); err == nil {
		t.Error("invalid key accepted")
	}
}
