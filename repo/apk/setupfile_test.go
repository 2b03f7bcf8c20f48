package apk

import (
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
)

// TestSetupFileGolden: the repositories file of a public and a private
// target; its repository lines are the ones /setup appends to
// /etc/apk/repositories, and every other line is a comment (apk-tools
// skips lines starting with '#').
func TestSetupFileGolden(t *testing.T) {
	f := newTestFormat(t, Config{})
	info := repo.SetupInfo{BaseURL: "https://pier.example.org", Components: []string{"main", "extra"}, Fingerprint: "AAAA1111"}
	pub := f.SetupFile(testTarget, info, nil)
	golden(t, "repositories-public.txt", []byte(pub))
	info.Private = true
	priv := f.SetupFile(testTarget, info, nil)
	golden(t, "repositories-private.txt", []byte(priv))
	if strings.Contains(priv, "PIER_READ_TOKEN") || strings.Contains(priv, "pier:") && !strings.Contains(priv, "pier:<token>@") {
		t.Errorf("the private file carries credentials:\n%s", priv)
	}
	info.Private = false
	setup := f.Setup(testTarget, info)
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(pub, "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, l)
		if !strings.Contains(setup, "echo "+l+" >> /etc/apk/repositories\n") {
			t.Errorf("/setup does not add %q:\n%s", l, setup)
		}
	}
	if len(lines) != 2 {
		t.Errorf("%d repository lines, want one per component:\n%s", len(lines), pub)
	}
	if !strings.Contains(pub, "/etc/apk/keys/"+testKeyName+" https://pier.example.org/keys/"+testKeyName+"\n") {
		t.Errorf("the file does not name the key to install:\n%s", pub)
	}
	if got, want := f.SetupFilePaths(testTarget), []string{"apk/5.8/alpine/v3.20/pier.repositories"}; !slices.Equal(got, want) {
		t.Errorf("SetupFilePaths %q, want %q", got, want)
	}
}
