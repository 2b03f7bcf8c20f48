package api

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzCredentials: any Authorization header a client sends is parsed
// without a panic, and only Bearer and Basic headers carry credentials.
func FuzzCredentials(f *testing.F) {
	for _, s := range []string{"", "Bearer pier_00", "Bearer ", "Basic cGllcjp0b2s=", "Basic %%%", "Basic Og==", "Digest x", "bearer x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{h}
		tok, ok := credentials(r)
		if !ok && tok != "" {
			t.Errorf("%q: no credentials but token %q", h, tok)
		}
		if ok && !strings.HasPrefix(h, "Bearer ") && !strings.HasPrefix(h, "Basic ") {
			t.Errorf("%q: credentials found", h)
		}
	})
}
