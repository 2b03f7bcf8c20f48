package sqlite

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/pierhq/pier/repo"
)

// FuzzDecodeSums: decodeSums gives what json.Unmarshal gives, for every
// input (both fail or both succeed with equal maps).
func FuzzDecodeSums(f *testing.F) {
	f.Add([]byte(`{"md5":"d41d8cd98f00b204e9800998ecf8427e","sha1":"da39a3ee5e6b4b0d3255bfef95601890afd80709","sha256":"e3b0"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"a":"b",}`))
	f.Add([]byte(`{"a":"\u00e9"}`))
	f.Add([]byte(`{"a":"b","a":"c"}`))
	f.Add([]byte(` {"a":"b"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var want repo.Sums
		wantErr := json.Unmarshal(b, &want)
		got, err := decodeSums(b)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: decodeSums error %v, json.Unmarshal %v", b, err, wantErr)
		}
		if err == nil && !maps.Equal(got, want) {
			t.Errorf("%q: decodeSums %v, json.Unmarshal %v", b, got, want)
		}
	})
}
