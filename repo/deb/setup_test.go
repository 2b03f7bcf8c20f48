package deb

import (
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
)

// TestSetupGolden: the setup text of a public and a private target, with
// one and with two signing keys.
func TestSetupGolden(t *testing.T) {
	f := New(Config{})
	tg := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	for _, c := range []struct {
		golden string
		info   repo.SetupInfo
	}{
		{"setup-public.txt", repo.SetupInfo{BaseURL: "https://pier.example.org", Components: []string{"main"},
			Fingerprint: "AAAA1111", Fingerprints: []string{"AAAA1111"}}},
		{"setup-private.txt", repo.SetupInfo{BaseURL: "https://pier.example.org", Components: []string{"main", "extra"},
			Fingerprint: "AAAA1111", Fingerprints: []string{"AAAA1111", "BBBB2222"}, Private: true}},
		{"setup-private-http.txt", repo.SetupInfo{BaseURL: "http://127.0.0.1:8080", Components: []string{"main"},
			Fingerprint: "AAAA1111", Private: true}},
	} {
		checkGolden(t, c.golden, []byte(f.Setup(tg, c.info)))
	}
	pub := f.Setup(tg, repo.SetupInfo{BaseURL: "https://h", Fingerprint: "AAAA1111", Components: []string{"main"}})
	if strings.Contains(pub, "auth.conf") || strings.Contains(pub, "PIER_READ_TOKEN") || !strings.Contains(pub, "signing key AAAA1111") {
		t.Errorf("public setup:\n%s", pub)
	}
}
