package deb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/pierhq/pier/repo"
)

// changesFor writes a .changes (as dpkg-genchanges lays it out) listing the
// fixture source package's files.
func changesFor(t testing.TB) string {
	dir := filepath.Join("testdata", "src")
	var files, sha1s, sha256s strings.Builder
	for _, n := range []string{srcFixture, "pier-src_1.0.orig.tar.gz", "pier-src_1.0-1.debian.tar.xz"} {
		b := readFile(t, filepath.Join(dir, n))
		s := sumsOf(b)
		fmt.Fprintf(&files, " %s %d misc optional %s\n", s[repo.MD5], len(b), n)
		fmt.Fprintf(&sha1s, " %s %d %s\n", s[repo.SHA1], len(b), n)
		fmt.Fprintf(&sha256s, " %s %d %s\n", s[repo.SHA256], len(b), n)
	}
	return "Format: 1.8\nDate: Tue, 14 Nov 2023 22:13:20 +0000\nSource: pier-src\nArchitecture: source\nVersion: 1.0-1\n" +
		"Distribution: unstable\nUrgency: medium\nMaintainer: Pier Test <test@example.org>\nChanges:\n pier-src (1.0-1) unstable; urgency=medium\n .\n   * Fixture.\n" +
		"Checksums-Sha1:\n" + sha1s.String() + "Checksums-Sha256:\n" + sha256s.String() + "Files:\n" + files.String()
}

func armoredPublic(t testing.TB, es ...*openpgp.Entity) []byte {
	var b bytes.Buffer
	for _, e := range es {
		w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Serialize(w); err != nil {
			t.Fatal(err)
		}
		w.Close()
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestReadChanges(t *testing.T) {
	f := New(Config{})
	ctx := context.Background()
	plain := changesFor(t)
	if !f.SniffUploadList("x.changes", nil) || !f.SniffUploadList("x", []byte(plain)) || f.SniffUploadList(srcFixture, readFile(t, filepath.Join("testdata", "src", srcFixture))) {
		t.Error("SniffUploadList")
	}
	read := func(data string, keys []byte) (*repo.UploadList, error) {
		return f.ReadUploadList(ctx, strings.NewReader(data), int64(len(data)), keys)
	}
	l, err := read(plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Files) != 3 || l.Files[0].Name != srcFixture || len(l.Files[1].Sums) != 3 || l.Signer != "" {
		t.Errorf("files %+v signer %q", l.Files, l.Signer)
	}
	signed, err := signerOf(t, "A").ClearSign([]byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	ka, kb := keys(t, "A")[0], keys(t, "B")[0]
	l, err = read(string(signed), armoredPublic(t, kb, ka))
	if err != nil || l.Signer != fmt.Sprintf("%X", ka.PrimaryKey.Fingerprint) || len(l.Files) != 3 {
		t.Errorf("signed by an allowed key: %+v, %v", l, err)
	}
	for name, c := range map[string]struct {
		data string
		keys []byte
		want error
		text string
	}{
		"unsigned with keys":         {plain, armoredPublic(t, ka), repo.ErrForbidden, "not signed"},
		"unknown key":                {string(signed), armoredPublic(t, kb), repo.ErrForbidden, "not one of this target's uploader keys"},
		"tampered":                   {strings.Replace(string(signed), "Urgency: medium", "Urgency: high", 1), armoredPublic(t, ka), repo.ErrForbidden, "does not verify"},
		"no Checksums-Sha256":        {plain[:strings.Index(plain, "Checksums-Sha256:")] + plain[strings.Index(plain, "Files:"):], nil, repo.ErrBadPackage, "Checksums-Sha256"},
		"bad Files line":             {strings.Replace(plain, " misc optional", " misc", 1), nil, repo.ErrBadPackage, "invalid line in Files"},
		"sha256 of an unlisted file": {strings.Replace(plain, "Checksums-Sha256:\n", "Checksums-Sha256:\n "+strings.Repeat("a", 64)+" 1 extra.deb\n", 1), nil, repo.ErrBadPackage, "which Files does not"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := read(c.data, c.keys)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
				t.Errorf("error %v, want %v with %q", err, c.want, c.text)
			}
		})
	}
}
