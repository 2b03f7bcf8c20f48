package repo

import (
	"bytes"
	"encoding/json"
	"reflect"
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

// FuzzDecodeManifest: decodeManifest gives what json.Unmarshal gives
// (both fail, or the same files), for what encodeManifest writes and for
// any other bytes.
func FuzzDecodeManifest(f *testing.F) {
	for _, files := range [][]File{
		{},
		{{Path: "deb/5.8/debian/dists/bookworm/InRelease", SHA256: "e3b0c442", Size: 123, Kind: KindRoot, Order: 1},
			{Path: "deb/5.8/debian/pool/main/h/hello_1.0_amd64.deb", SHA256: "ab", Size: 0, Kind: KindPackage}},
		{{Path: "x/h\u00e9<llo>&\"\\\x01.deb", SHA256: "", Size: -1, Kind: -3, Order: -2}},
	} {
		b, err := encodeManifest(files)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`null`))
	f.Add([]byte(` [{"p":"a","h":"b","s":01,"k":0}]`))
	f.Add([]byte(`[{"p":"a","h":"b","s":1e3,"k":0}]`))
	f.Add([]byte(`[{"p":"a","h":"b","s":1,"k":99999999999999999999}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeManifest(data)
		var want []File
		werr := json.Unmarshal(data, &want)
		if (err != nil) != (werr != nil) {
			t.Fatalf("decodeManifest error %v, json.Unmarshal error %v", err, werr)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) || (got == nil) != (want == nil) {
			t.Fatalf("decodeManifest %d files (nil %v), json.Unmarshal %d (nil %v)", len(got), got == nil, len(want), want == nil)
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("file %d: decodeManifest %+v, json.Unmarshal %+v", i, got[i], want[i])
			}
		}
	})
}

// TestDecodeManifestFast: what encodeManifest writes takes the hand-read
// path (the fuzz test proves it agrees with json.Unmarshal, not that it is
// used).
func TestDecodeManifestFast(t *testing.T) {
	files := []File{{Path: "rpm/5.8/el/9/repodata/repomd.xml", SHA256: "ab", Size: 7, Kind: KindRoot, Order: 2},
		{Path: "rpm/5.8/el/9/x86_64/a-1-1.x86_64.rpm", SHA256: "cd", Size: 1 << 40, Kind: KindPackage}}
	b, err := encodeManifest(files)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := decodeManifestFast(b)
	if !ok || !reflect.DeepEqual(got, files) {
		t.Fatalf("fast path: %+v %v", got, ok)
	}
	if _, ok := decodeManifestFast([]byte(`[{"p":"a\u00e9","h":"b","s":1,"k":0}]`)); ok {
		t.Error("the fast path took an escape")
	}
}
