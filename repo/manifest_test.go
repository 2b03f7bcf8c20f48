package repo

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzEncodeManifest: encodeManifest writes exactly json.Marshal's bytes,
// whatever the paths and sums hold.
func FuzzEncodeManifest(f *testing.F) {
	f.Add("deb/5.8/debian/dists/bookworm/InRelease", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", int64(123), 3, 1)
	f.Add("pool/main/h/hé<llo>&\"\\\x01\u2028\xff/x.deb", "", int64(-1), 0, 0)
	f.Fuzz(func(t *testing.T, path, sum string, size int64, kind, order int) {
		files := []File{{Path: path, SHA256: sum, Size: size, Kind: Kind(kind), Order: order},
			{Path: "rpm/5.8/el/9/repodata/repomd.xml", SHA256: sum, Size: 7, Kind: KindRoot}}
		want, err := json.Marshal(files)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeManifest(files)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("encodeManifest:\n%s\njson.Marshal:\n%s", got, want)
		}
	})
}

// TestEncodeManifestEmpty: no files is "[]", as json.Marshal writes an
// empty slice.
func TestEncodeManifestEmpty(t *testing.T) {
	got, err := encodeManifest([]File{})
	if err != nil || string(got) != "[]" {
		t.Errorf("encodeManifest of no files: %q, %v", got, err)
	}
}
