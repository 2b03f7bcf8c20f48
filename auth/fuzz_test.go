package auth

import (
	"testing"

	"github.com/pierhq/pier/repo"
)

// FuzzParseScope: scope strings never panic, what parses prints back to
// the same scope, and its pattern can be matched against any target.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"read", "upload:5.8/*/*", "admin", "read:[a-/x/y", "delete:*/*/*", "promote:5.[78]/deb*/?"} {
		f.Add(s, "5.8", "debian", "bookworm")
	}
	f.Fuzz(func(t *testing.T, s, stream, distro, release string) {
		sc, err := ParseScope(s)
		if err != nil {
			return
		}
		again, err := ParseScope(sc.String())
		if err != nil || again != sc {
			t.Errorf("%q -> %q -> %v %v", s, sc, again, err)
		}
		sc.Covers(Read, repo.Target{Stream: stream, Distro: distro, Release: release})
	})
}
