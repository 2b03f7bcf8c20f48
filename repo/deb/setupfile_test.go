package deb

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/pierhq/pier/repo"
)

// fakeKeys stands for an armored key ring in the golden files: a header
// line, the empty line after the armor headers, body lines.
const fakeKeys = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxsBNBGd4\nAAAA\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n"

// TestSetupFileGolden: the sources file of a public and a private target,
// with the key ring embedded, and without one (Signed-By names the path
// /setup installs the key at).
func TestSetupFileGolden(t *testing.T) {
	f := New(Config{})
	tg := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	pub := repo.SetupInfo{BaseURL: "https://pier.example.org", Components: []string{"main"},
		Fingerprint: "AAAA1111", Fingerprints: []string{"AAAA1111"}}
	priv := repo.SetupInfo{BaseURL: "https://pier.example.org", Components: []string{"main", "extra"},
		Fingerprint: "AAAA1111", Fingerprints: []string{"AAAA1111", "BBBB2222"}, Private: true}
	checkGolden(t, "sources-public.sources", []byte(f.SetupFile(tg, pub, []byte(fakeKeys))))
	checkGolden(t, "sources-private.sources", []byte(f.SetupFile(tg, priv, []byte(fakeKeys))))
	checkGolden(t, "sources-nokey.sources", []byte(f.SetupFile(tg, pub, nil)))
	if got, want := f.SetupFilePaths(tg), []string{"deb/5.8/debian/dists/bookworm/pier.sources"}; !slices.Equal(got, want) {
		t.Errorf("SetupFilePaths %q, want %q", got, want)
	}
	// The stanza is the one /setup writes, but for Signed-By.
	setup := f.Setup(tg, pub)
	file := f.SetupFile(tg, pub, nil)
	stanza := file[strings.Index(file, "\nTypes:")+1:]
	if !strings.Contains(setup, "<<'EOF'\n"+stanza+"EOF\n") {
		t.Errorf("/setup does not write the served stanza:\n%s\n--- served\n%s", setup, file)
	}
}

// TestSetupFileEmbeddedKey: the Signed-By of the sources file, unfolded as
// deb822 continuation lines are (the leading space dropped, " ." an empty
// line), is the armored key ring, and it reads back as the same keys.
func TestSetupFileEmbeddedKey(t *testing.T) {
	ring := signerOf(t, "AB").PublicKey()
	f := New(Config{})
	text := f.SetupFile(repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"},
		repo.SetupInfo{BaseURL: "http://127.0.0.1:8080", Components: []string{"main"}, Fingerprints: []string{"A", "B"}}, ring)
	fields := map[string]string{}
	var cur string
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "#"):
			if cur != "" {
				t.Errorf("comment inside the stanza: %q", l)
			}
		case strings.HasPrefix(l, " "):
			if cur == "" {
				t.Fatalf("continuation line before any field: %q", l)
			}
			v := l[1:]
			if v == "." {
				v = ""
			}
			fields[cur] += "\n" + v
		default:
			k, v, ok := strings.Cut(l, ":")
			if !ok || strings.TrimSpace(l) == "" {
				t.Fatalf("not a field: %q\n%s", l, text)
			}
			cur = k
			fields[k] = strings.TrimSpace(v)
		}
	}
	signedBy := strings.TrimPrefix(fields["Signed-By"], "\n")
	if signedBy+"\n" != string(ring) {
		t.Fatalf("Signed-By unfolds to\n%s\nwant\n%s", signedBy, ring)
	}
	kr, err := openpgp.ReadArmoredKeyRing(bytes.NewReader([]byte(signedBy)))
	if err != nil || len(kr) != 2 {
		t.Fatalf("Signed-By: %v, %d keys", err, len(kr))
	}
	for k, want := range map[string]string{"Types": "deb deb-src", "URIs": "http://127.0.0.1:8080/deb/5.8/debian", "Suites": "bookworm", "Components": "main"} {
		if fields[k] != want {
			t.Errorf("%s: %q, want %q", k, fields[k], want)
		}
	}
}
