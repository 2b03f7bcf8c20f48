package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/signing"
)

// verifyKeyTime is when the test keys were made and sign.
var verifyKeyTime = time.Date(2025, 1, 4, 9, 0, 0, 0, time.UTC)

// verifyKeys are three 2048-bit keys, made once: A and B sign, C is a key
// outside the ring.
var verifyKeys = sync.OnceValues(func() ([]*openpgp.Entity, error) {
	var es []*openpgp.Entity
	for _, n := range []string{"A", "B", "C"} {
		e, err := signing.GenerateRSA("Pier Verify "+n, "", 2048, verifyKeyTime)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, nil
})

// keys returns the test keys by name ("A", "B", "C").
func keys(t testing.TB, names string) []*openpgp.Entity {
	t.Helper()
	es, err := verifyKeys()
	if err != nil {
		t.Fatal(err)
	}
	var out []*openpgp.Entity
	for _, n := range names {
		out = append(out, es[n-'A'])
	}
	return out
}

func signerOf(t testing.TB, names string) *signing.OpenPGP {
	t.Helper()
	s, err := signing.New(keys(t, names), signing.Options{Now: func() time.Time { return verifyKeyTime.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// generation is a published generation held in memory.
type generation struct {
	files []repo.File
	blobs map[string][]byte // by sha256
}

// publish indexes in and returns the generation as the core stores it.
func publish(t testing.TB, f *Format, in *repo.IndexInput) *generation {
	t.Helper()
	out, err := f.Index(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	g := &generation{blobs: map[string][]byte{}}
	for _, file := range out {
		if file.Data != nil {
			g.put(&file, file.Data)
		}
		file.Data = nil
		g.files = append(g.files, file)
	}
	return g
}

// put stores data as file's contents.
func (g *generation) put(file *repo.File, data []byte) {
	s := sha256.Sum256(data)
	file.SHA256, file.Size = hex.EncodeToString(s[:]), int64(len(data))
	g.blobs[file.SHA256] = data
}

// file returns the generation's file at path p.
func (g *generation) file(t testing.TB, p string) *repo.File {
	t.Helper()
	for i := range g.files {
		if g.files[i].Path == p {
			return &g.files[i]
		}
	}
	t.Fatalf("no file %s", p)
	return nil
}

func (g *generation) data(t testing.TB, p string) []byte { return g.blobs[g.file(t, p).SHA256] }

func (g *generation) remove(t testing.TB, p string) {
	t.Helper()
	for i := range g.files {
		if g.files[i].Path == p {
			g.files = append(g.files[:i:i], g.files[i+1:]...)
			return
		}
	}
	t.Fatalf("no file %s", p)
}

// input returns the VerifyInput of g with the public keys of names.
func (g *generation) input(t testing.TB, names string) *repo.VerifyInput {
	t.Helper()
	var pub []byte
	for _, e := range keys(t, names) {
		var b bytes.Buffer
		w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Serialize(w); err != nil {
			t.Fatal(err)
		}
		w.Close()
		pub = append(append(pub, b.Bytes()...), '\n')
	}
	return &repo.VerifyInput{
		Target: repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"},
		Files:  g.files,
		Read: func(_ context.Context, f repo.File) ([]byte, error) {
			if f.Kind == repo.KindPackage {
				return nil, fmt.Errorf("Verify read the package file %s", f.Path)
			}
			b, ok := g.blobs[f.SHA256]
			if !ok {
				return nil, fmt.Errorf("no blob %s", f.SHA256)
			}
			return b, nil
		},
		PublicKeys: pub,
	}
}

// resign rewrites Release through edit (nil keeps it), updates its SHA256
// lines for files whose contents changed, and signs it again with s.
func (g *generation) resign(t testing.TB, s repo.Signer, edit func(string) string) {
	t.Helper()
	const dists = "deb/5.8/debian/dists/bookworm/"
	rel := string(g.data(t, dists+"Release"))
	head, section, _ := strings.Cut(rel, "SHA256:\n")
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(section, "\n"), "\n") {
		parts := strings.Fields(l)
		if isContents(parts[2]) {
			lines = append(lines, l) // not served; tests set it themselves
			continue
		}
		f := g.file(t, dists+parts[2])
		lines = append(lines, fmt.Sprintf(" %s %16d %s", f.SHA256, f.Size, parts[2]))
	}
	rel = head + "SHA256:\n" + strings.Join(lines, "\n") + "\n"
	if edit != nil {
		rel = edit(rel)
	}
	g.put(g.file(t, dists+"Release"), []byte(rel))
	in, err := s.ClearSign([]byte(rel))
	if err != nil {
		t.Fatal(err)
	}
	if in, err = trimClearSigned(in); err != nil {
		t.Fatal(err)
	}
	g.put(g.file(t, dists+"InRelease"), in)
	sig, err := s.DetachSign([]byte(rel))
	if err != nil {
		t.Fatal(err)
	}
	g.put(g.file(t, dists+"Release.gpg"), sig)
}

// setReleaseLine sets the SHA256 line of name in a Release text to the
// sha256 and size of plain.
func setReleaseLine(t testing.TB, release, name string, plain []byte) string {
	t.Helper()
	lines := strings.Split(release, "\n")
	for i, l := range lines {
		if f := strings.Fields(l); len(f) == 3 && f[2] == name {
			lines[i] = fmt.Sprintf(" %s %16d %s", sha256Hex(plain), len(plain), name)
			return strings.Join(lines, "\n")
		}
	}
	t.Fatalf("Release has no line for %s", name)
	return ""
}

// replace gives the file at p new contents; with byHash its by-hash copy
// follows.
func (g *generation) replace(t testing.TB, p string, data []byte, byHash bool) {
	t.Helper()
	f := g.file(t, p)
	old := f.SHA256
	g.put(f, data)
	if byHash {
		bh := g.file(t, p[:strings.LastIndexByte(p, '/')]+"/by-hash/SHA256/"+old)
		bh.Path = p[:strings.LastIndexByte(p, '/')] + "/by-hash/SHA256/" + f.SHA256
		g.put(bh, data)
	}
}

func gzipOf(t testing.TB, b []byte) []byte {
	t.Helper()
	z, err := gzipBytes(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestVerify(t *testing.T) {
	const dists = "deb/5.8/debian/dists/bookworm/"
	const amd64 = dists + "main/binary-amd64/"
	f := goldenFormat()
	base := goldenInput(t, f)
	base.Signer = signerOf(t, "AB")
	good := publish(t, f, base)
	clone := func() *generation {
		return &generation{files: append([]repo.File(nil), good.files...), blobs: good.blobs}
	}
	ctx := context.Background()
	if err := f.Verify(ctx, good.input(t, "AB")); err != nil {
		t.Fatalf("a good generation fails: %v", err)
	}
	tests := []struct {
		name string
		keys string
		edit func(t *testing.T, g *generation)
		want string // "" when it must pass
	}{
		{"ring of A only", "A", nil, ""},
		{"ring of B only", "B", nil, ""},
		{"ring of C only", "C", nil, dists + "InRelease: signature: no signature by a key of the ring"},
		{"ring of A and C", "AC", nil, ""},
		{"tampered Release", "AB", func(t *testing.T, g *generation) {
			g.put(g.file(t, dists+"Release"), bytes.Replace(g.data(t, dists+"Release"), []byte("Label: Pier"), []byte("Label: Evil"), 1))
		}, dists + "InRelease: the signed text is not " + dists + "Release"},
		{"tampered InRelease text", "AB", func(t *testing.T, g *generation) {
			g.put(g.file(t, dists+"InRelease"), bytes.Replace(g.data(t, dists+"InRelease"), []byte("Label: Pier"), []byte("Label: Evil"), 1))
		}, dists + "InRelease: signature: the signature by key"},
		{"Release.gpg of other text", "AB", func(t *testing.T, g *generation) {
			sig, err := signerOf(t, "A").DetachSign([]byte("other text\n"))
			if err != nil {
				t.Fatal(err)
			}
			g.put(g.file(t, dists+"Release.gpg"), sig)
		}, dists + "Release.gpg: signature over Release: the signature by key"},
		{"bad signature next to a good one", "AB", func(t *testing.T, g *generation) {
			good, err := signerOf(t, "A").DetachSign(g.data(t, dists+"Release"))
			if err != nil {
				t.Fatal(err)
			}
			bad, err := signerOf(t, "B").DetachSign([]byte("other text\n"))
			if err != nil {
				t.Fatal(err)
			}
			g.put(g.file(t, dists+"Release.gpg"), joinSignatures(t, good, bad))
		}, dists + "Release.gpg: signature over Release: the signature by key"},
		{"signed by a key outside the ring", "AB", func(t *testing.T, g *generation) {
			g.resign(t, signerOf(t, "C"), nil)
		}, "no signature by a key of the ring"},
		{"line after the END line", "AB", func(t *testing.T, g *generation) {
			g.put(g.file(t, dists+"InRelease"), append(bytes.Clone(g.data(t, dists+"InRelease")), "\nExtra: x\n"...))
		}, dists + "InRelease: apt cannot split it as a clear-signed file: a line follows -----END PGP SIGNATURE-----"},
		{"missing by-hash file", "AB", func(t *testing.T, g *generation) {
			z := g.file(t, amd64+"Packages.xz")
			g.remove(t, amd64+"by-hash/SHA256/"+z.SHA256)
		}, amd64 + "Packages.xz: its by-hash copy " + amd64 + "by-hash/SHA256/"},
		{"wrong Packages hash", "AB", func(t *testing.T, g *generation) {
			p := bytes.Replace(g.data(t, amd64+"Packages"), []byte("Package: hello"), []byte("Package: jello"), 1)
			g.replace(t, amd64+"Packages", p, true)
		}, amd64 + "Packages: Release lists size"},
		{"variant that decompresses to other text", "AB", func(t *testing.T, g *generation) {
			g.replace(t, amd64+"Packages.gz", gzipOf(t, []byte("Package: other\n")), true)
			g.resign(t, signerOf(t, "AB"), nil)
		}, amd64 + "Packages.gz: decompresses to size 15"},
		{"variant that does not decompress", "AB", func(t *testing.T, g *generation) {
			g.replace(t, amd64+"Packages.xz", []byte("not xz"), true)
			g.resign(t, signerOf(t, "AB"), nil)
		}, amd64 + "Packages.xz: does not decompress"},
		{"Packages naming a missing pool file", "AB", func(t *testing.T, g *generation) {
			for _, f := range g.files {
				if strings.Contains(f.Path, "/pool/main/h/hello/") && strings.HasSuffix(f.Path, "_amd64.deb") {
					g.remove(t, f.Path)
					return
				}
			}
			t.Fatal("no hello amd64 pool file")
		}, "package hello: Filename deb/5.8/debian/pool/main/h/hello/"},
		{"Packages naming a mis-sized pool file", "AB", func(t *testing.T, g *generation) {
			for i := range g.files {
				if strings.Contains(g.files[i].Path, "/pool/main/h/hello/") {
					g.files[i].Size++
					return
				}
			}
		}, "; the stanza says "},
		{"uncompressed Packages not served", "AB", func(t *testing.T, g *generation) {
			for _, arch := range []string{"amd64", "arm64", "riscv64"} {
				for _, comp := range []string{"main", "contrib"} {
					g.remove(t, dists+comp+"/binary-"+arch+"/Packages")
				}
			}
		}, ""},
		{"uncompressed Packages not served, and no variant either", "AB", func(t *testing.T, g *generation) {
			for _, n := range []string{"Packages", "Packages.gz", "Packages.xz"} {
				g.remove(t, amd64+n)
			}
		}, amd64 + "Packages: listed in Release but not in the generation"},
		{"a listed file missing", "AB", func(t *testing.T, g *generation) {
			g.remove(t, amd64+"Packages.gz")
		}, amd64 + "Packages.gz: listed in Release but not in the generation"},
		{"an architecture without an index", "AB", func(t *testing.T, g *generation) {
			g.resign(t, signerOf(t, "AB"), func(r string) string {
				return strings.Replace(r, "Architectures: amd64 arm64 riscv64", "Architectures: amd64 arm64 riscv64 s390x", 1)
			})
		}, dists + "Release: no contrib/binary-s390x/Packages index is listed for component contrib and architecture s390x"},
		{"a bad Date", "AB", func(t *testing.T, g *generation) {
			g.resign(t, signerOf(t, "AB"), func(r string) string {
				return strings.Replace(r, "Date: Sat, 04 Jan 2025 10:00:00 UTC", "Date: yesterday", 1)
			})
		}, dists + `Release: Date "yesterday" is not an RFC 1123 date`},
		{"Valid-Until before Date", "AB", func(t *testing.T, g *generation) {
			g.resign(t, signerOf(t, "AB"), func(r string) string {
				return strings.Replace(r, "Valid-Until: Sat, 11 Jan 2025 10:00:00 UTC", "Valid-Until: Fri, 03 Jan 2025 10:00:00 UTC", 1)
			})
		}, dists + "Release: Valid-Until is not after Date"},
		{"no InRelease", "AB", func(t *testing.T, g *generation) { g.remove(t, dists+"InRelease") }, "no dists/<release>/InRelease"},
		{"Contents.gz that decompresses to other text", "AB", func(t *testing.T, g *generation) {
			g.replace(t, dists+"main/Contents-amd64.gz", gzipOf(t, []byte("usr/bin/other misc/other\n")), true)
			g.resign(t, signerOf(t, "AB"), nil)
		}, dists + "main/Contents-amd64.gz: decompresses to size 25"},
		{"Contents line without packages", "AB", func(t *testing.T, g *generation) {
			plain := []byte("usr/bin/hello misc/hello\nusr/bin/orphan\n")
			g.replace(t, dists+"main/Contents-amd64.gz", gzipOf(t, plain), true)
			g.resign(t, signerOf(t, "AB"), func(r string) string {
				return setReleaseLine(t, r, "main/Contents-amd64", plain)
			})
		}, dists + `main/Contents-amd64.gz: line 2 "usr/bin/orphan" is not "path packages"`},
		{"Contents line with an empty package", "AB", func(t *testing.T, g *generation) {
			plain := []byte("usr/bin/hello misc/hello,\n")
			g.replace(t, dists+"main/Contents-amd64.gz", gzipOf(t, plain), true)
			g.resign(t, signerOf(t, "AB"), func(r string) string {
				return setReleaseLine(t, r, "main/Contents-amd64", plain)
			})
		}, "has an empty package in its list"},
		{"Contents with a header and tabs", "AB", func(t *testing.T, g *generation) {
			// apt-file reads the old format with a header too; Pier's
			// check takes what apt-file takes.
			plain := []byte("FILE\t\t\tLOCATION\nusr/bin/hello\t\tmisc/hello\n")
			g.replace(t, dists+"main/Contents-amd64.gz", gzipOf(t, plain), true)
			g.resign(t, signerOf(t, "AB"), func(r string) string {
				return setReleaseLine(t, r, "main/Contents-amd64", plain)
			})
		}, ""},
		{"Contents.gz missing", "AB", func(t *testing.T, g *generation) {
			g.remove(t, dists+"main/Contents-amd64.gz")
		}, dists + "main/Contents-amd64: listed in Release but not in the generation"},
		{"Contents by-hash copy missing", "AB", func(t *testing.T, g *generation) {
			g.remove(t, dists+"main/by-hash/SHA256/"+g.file(t, dists+"main/Contents-amd64.gz").SHA256)
		}, dists + "main/Contents-amd64.gz: its by-hash copy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := clone()
			if tt.edit != nil {
				tt.edit(t, g)
			}
			err := f.Verify(ctx, g.input(t, tt.keys))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Verify passed")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "deb: verify 5.8/debian/bookworm: ") {
				t.Errorf("error %q does not name the target", err)
			}
		})
	}
}

// TestVerifyEmpty: a target without packages publishes empty indexes,
// which verify.
func TestVerifyEmpty(t *testing.T) {
	f := New(Config{})
	in := &repo.IndexInput{Target: repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}, Time: goldenTime, Signer: signerOf(t, "A")}
	g := publish(t, f, in)
	if err := f.Verify(context.Background(), g.input(t, "A")); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyPrefix: the archive root comes from the InRelease path, so a
// generation under another prefix verifies too.
func TestVerifyPrefix(t *testing.T) {
	f := goldenFormat()
	in := goldenInput(t, f)
	in.Signer = signerOf(t, "A")
	g := publish(t, f, in)
	for i := range g.files {
		g.files[i].Path = "mirror/root/" + g.files[i].Path
	}
	if err := f.Verify(context.Background(), g.input(t, "A")); err != nil {
		t.Fatal(err)
	}
	// A pool path outside the new root is a missing file.
	for i := range g.files {
		if strings.Contains(g.files[i].Path, "/pool/") {
			g.files[i].Path = strings.TrimPrefix(g.files[i].Path, "mirror/root/")
		}
	}
	if err := f.Verify(context.Background(), g.input(t, "A")); err == nil || !strings.Contains(err.Error(), "is not in the generation") {
		t.Fatalf("error %v", err)
	}
}

// joinSignatures puts the packets of two armored signatures into one
// armored block.
func joinSignatures(t testing.TB, sigs ...[]byte) []byte {
	t.Helper()
	var body bytes.Buffer
	for _, s := range sigs {
		b, err := armor.Decode(bytes.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(&body, b.Body); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	w, err := armor.Encode(&out, openpgp.SignatureType, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(body.Bytes())
	w.Close()
	out.WriteByte('\n')
	return out.Bytes()
}

// BenchmarkVerify10k verifies a generation of 10,000 packages (two ~10 MB
// Packages files, each plain, .gz and .xz; with contents=on also two
// Contents-<arch>.gz of ~34 MB uncompressed), as every publish does.
func BenchmarkVerify10k(b *testing.B) {
	pkgs := syntheticPackages(b, 10000)
	for _, c := range []Switch{SwitchOff, SwitchOn} {
		b.Run("contents="+c.String(), func(b *testing.B) {
			f := New(Config{Contents: c})
			in := &repo.IndexInput{Target: repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"},
				Packages: pkgs, Time: goldenTime, Signer: signerOf(b, "A")}
			g := publish(b, f, in)
			vin := g.input(b, "A")
			ctx := context.Background()
			// full: a Format that did not check the generation before
			// (pier verify, another process); memo: the one that did.
			for _, mode := range []string{"full", "memo"} {
				b.Run(mode, func(b *testing.B) {
					start := cpuTime(b)
					for b.Loop() {
						v := f
						if mode == "full" {
							v = New(Config{Contents: c})
						}
						if err := v.Verify(ctx, vin); err != nil {
							b.Fatal(err)
						}
					}
					reportCPU(b, start)
				})
			}
		})
	}
}
