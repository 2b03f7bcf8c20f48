package rpm

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/pierhq/pier/repo"
)

// TestSetupGolden: the dnf and zypper setup texts of public and private
// targets, with one and with two signing keys.
func TestSetupGolden(t *testing.T) {
	f := New(Config{})
	el := repo.Target{Stream: "5.8", Distro: "el", Release: "9"}
	suse := repo.Target{Stream: "5.8", Distro: "opensuse", Release: "15.6"}
	one := repo.SetupInfo{BaseURL: "https://pier.example.org", Fingerprint: "AAAA1111", Fingerprints: []string{"AAAA1111"}}
	two := repo.SetupInfo{BaseURL: "https://pier.example.org", Fingerprint: "AAAA1111", Fingerprints: []string{"AAAA1111", "BBBB2222"}}
	private := two
	private.Private = true
	for _, c := range []struct {
		golden string
		t      repo.Target
		info   repo.SetupInfo
	}{
		{"setup-el.txt", el, one},
		{"setup-el-rotation.txt", el, two},
		{"setup-el-private.txt", el, private},
		{"setup-opensuse.txt", suse, one},
		{"setup-opensuse-private.txt", suse, private},
	} {
		got := []byte(f.Setup(c.t, c.info))
		path := filepath.Join("testdata", "golden", c.golden)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the golden file (run go test -update after checking the change):\n--- got\n%s\n--- want\n%s", c.golden, got, want)
		}
	}
}
