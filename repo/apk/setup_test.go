package apk

import (
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
)

// TestSetupGolden: the setup text of a public and a private target.
func TestSetupGolden(t *testing.T) {
	f := newTestFormat(t, Config{})
	info := repo.SetupInfo{BaseURL: "https://pier.example.org", Components: []string{"main", "extra"}, Fingerprint: "AAAA1111"}
	golden(t, "setup-public.txt", []byte(f.Setup(testTarget, info)))
	info.Private = true
	got := f.Setup(testTarget, info)
	golden(t, "setup-private.txt", []byte(got))
	if !strings.Contains(got, `echo "https://pier:$PIER_READ_TOKEN@pier.example.org/apk/5.8/alpine/v3.20/main" >> /etc/apk/repositories`) {
		t.Errorf("private setup has no repository URL with the token:\n%s", got)
	}
}
