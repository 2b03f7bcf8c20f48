package rpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/signing"
)

// generation is an Index result as the core stores it: every file with
// its sha256 and size, index bytes by path.
type generation struct {
	files []repo.File
	data  map[string][]byte
	keys  []byte
	reads atomic.Int64
}

// newGeneration indexes pkgs with signer and stores the result.
func newGeneration(t testing.TB, f *Format, pkgs []repo.Package, signer repo.Signer) *generation {
	t.Helper()
	files, err := f.Index(context.Background(), &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: fixtureTime, Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	g := &generation{data: map[string][]byte{}, keys: signer.PublicKey()}
	for _, fl := range files {
		if fl.Data != nil {
			g.put(fl.Path, fl.Data, fl.Kind)
			continue
		}
		g.files = append(g.files, fl)
	}
	g.sort()
	return g
}

// put stores (or replaces) an index file.
func (g *generation) put(p string, b []byte, kind repo.Kind) {
	sum := sha256.Sum256(b)
	g.files = slices.DeleteFunc(g.files, func(f repo.File) bool { return f.Path == p })
	g.files = append(g.files, repo.File{Path: p, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b)), Kind: kind})
	g.data[p] = b
	g.sort()
}

func (g *generation) sort() {
	slices.SortFunc(g.files, func(a, b repo.File) int { return strings.Compare(a.Path, b.Path) })
}

// input is the generation as the core hands it to Verify; Read checks what
// it returns against the file's sha256, as the core's does.
func (g *generation) input() *repo.VerifyInput {
	return &repo.VerifyInput{
		Target: testTarget,
		Files:  g.files,
		Read: func(ctx context.Context, f repo.File) ([]byte, error) {
			g.reads.Add(1)
			b, ok := g.data[f.Path]
			if !ok {
				return nil, fmt.Errorf("%s: not an index file", f.Path)
			}
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != f.SHA256 {
				return nil, fmt.Errorf("%s: sha256 mismatch", f.Path)
			}
			return b, nil
		},
		PublicKeys: g.keys,
	}
}

// repodata returns the path of a generation's repodata file of kind.
func (g *generation) repodata(kind string) string {
	for _, f := range g.files {
		if strings.Contains(f.Path, "-"+kind+".xml") {
			return f.Path
		}
	}
	return ""
}

func newSigner(t testing.TB, names ...string) *signing.OpenPGP {
	t.Helper()
	var es []*openpgp.Entity
	for _, n := range names {
		e, err := signing.GenerateRSA(n, "", 2048, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	s, err := signing.New(es, signing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerify publishes the fixtures and checks that Verify passes the
// generation as published and fails each broken one with a message naming
// the file and the check.
func TestVerify(t *testing.T) {
	f := newTestFormat()
	pkgs := fixturePackages(t, f)
	signer := newSigner(t, "Pier Old", "Pier New")
	good := func() *generation { return newGeneration(t, f, pkgs, signer) }
	g := good()
	if err := f.Verify(context.Background(), g.input()); err != nil {
		t.Fatalf("a good generation fails: %v", err)
	}
	if g.reads.Load() != 10 { // per repository (binary, source): repomd.xml, .asc and the three repodata files, once each
		t.Errorf("%d reads, want 10", g.reads.Load())
	}
	for _, c := range []string{CompressionZstd} {
		fz := New(Config{Compression: c})
		if err := fz.Verify(context.Background(), newGeneration(t, fz, fixturePackages(t, fz), signer).input()); err != nil {
			t.Errorf("%s generation fails: %v", c, err)
		}
	}
	// A generation written before Pier published source repositories has
	// nothing below source/: it passes.
	old := good()
	old.files = slices.DeleteFunc(old.files, func(f repo.File) bool { return strings.HasPrefix(f.Path, testBase+SourceDir) })
	if err := f.Verify(context.Background(), old.input()); err != nil {
		t.Errorf("a generation without a source repository fails: %v", err)
	}
	// A single key of the ring signs too: every client holds only one.
	if err := f.Verify(context.Background(), newGeneration(t, f, pkgs, newSigner(t, "Pier Only")).input()); err != nil {
		t.Errorf("one-key generation fails: %v", err)
	}

	repomd := testBase + "repodata/repomd.xml"
	other := newSigner(t, "Someone Else")
	cases := []struct {
		name   string
		break_ func(g *generation)
		want   string
	}{
		{"tampered repomd.xml", func(g *generation) {
			g.put(repomd, bytes.Replace(g.data[repomd], []byte("<revision>"), []byte("<revision>1"), 1), repo.KindRoot)
		}, "repomd.xml.asc: no good signature by key"},
		{"signature by another key", func(g *generation) {
			sig, _ := other.DetachSign(g.data[repomd])
			g.put(repomd+".asc", sig, repo.KindRoot)
		}, "repomd.xml.asc: no good signature by key"},
		{"signature by one key of the two", func(g *generation) {
			one := newSigner(t, "Pier Old")
			sig, _ := one.DetachSign(g.data[repomd])
			g.put(repomd+".asc", sig, repo.KindRoot)
		}, "repomd.xml.asc: no good signature by key"},
		{"no signature", func(g *generation) {
			g.files = slices.DeleteFunc(g.files, func(f repo.File) bool { return f.Path == repomd+".asc" })
		}, "repomd.xml.asc: missing from the generation"},
		{"no repomd.xml", func(g *generation) {
			g.files = slices.DeleteFunc(g.files, func(f repo.File) bool { return f.Path == repomd })
		}, "repomd.xml: missing from the generation"},
		{"missing primary", func(g *generation) {
			p := g.repodata("primary")
			g.files = slices.DeleteFunc(g.files, func(f repo.File) bool { return f.Path == p })
		}, "-primary.xml.gz: missing from the generation"},
		{"primary of another size", func(g *generation) {
			p := g.repodata("primary")
			g.put(p, append(bytes.Clone(g.data[p]), 0), repo.KindHashed)
		}, "-primary.xml.gz: 1608 bytes, repomd.xml says 1607"},
		{"truncated filelists with the right checksum in repomd", func(g *generation) {
			p := g.repodata("filelists")
			b := g.data[p][:len(g.data[p])-10]
			g.put(p, b, repo.KindHashed)
			resign(t, g, signer, func(md []byte) []byte { return fixRepomdEntry(md, p, b) })
		}, "-filelists.xml.gz: does not decompress"},
		{"wrong open-checksum", func(g *generation) {
			resign(t, g, signer, func(md []byte) []byte {
				i := bytes.Index(md, []byte(`<open-checksum type="sha256">`)) + len(`<open-checksum type="sha256">`)
				md = bytes.Clone(md)
				md[i] = map[bool]byte{true: '1', false: '0'}[md[i] == '0']
				return md
			})
		}, "open-checksum says"},
		{"wrong package size", func(g *generation) {
			for i := range g.files {
				if g.files[i].Kind == repo.KindPackage && strings.HasSuffix(g.files[i].Path, "greet-1.0-1.noarch.rpm") {
					g.files[i].Size++
				}
			}
		}, "noarch/e3/greet-1.0-1.noarch.rpm is 8586 bytes, primary says 8585"},
		{"wrong package checksum", func(g *generation) {
			for i := range g.files {
				if g.files[i].Kind == repo.KindPackage && strings.HasSuffix(g.files[i].Path, "x86_64.rpm") {
					g.files[i].SHA256 = strings.Repeat("0", 64)
				}
			}
		}, "x86_64/hello-1.2.3-1.x86_64.rpm has sha256 0000"},
		{"missing package", func(g *generation) {
			g.files = slices.DeleteFunc(g.files, func(f repo.File) bool { return strings.HasSuffix(f.Path, "aarch64.rpm") })
		}, "aarch64/hello-1.2.3-1.aarch64.rpm is missing from the generation"},
		{"tampered source repomd.xml", func(g *generation) {
			srcmd := testBase + SourceDir + "repodata/repomd.xml"
			g.put(srcmd, bytes.Replace(g.data[srcmd], []byte("<revision>"), []byte("<revision>1"), 1), repo.KindRoot)
		}, "source/repodata/repomd.xml.asc: no good signature by key"},
		{"missing source package", func(g *generation) {
			g.files = slices.DeleteFunc(g.files, func(f repo.File) bool { return strings.HasSuffix(f.Path, ".src.rpm") })
		}, "source/Packages/e3/greet-1.0-1.src.rpm is missing from the generation"},
		{"source package without its repository", func(g *generation) {
			g.files = slices.DeleteFunc(g.files, func(f repo.File) bool {
				return strings.HasPrefix(f.Path, testBase+SourceDir+"repodata/repomd.xml")
			})
		}, "source/repodata/repomd.xml: missing from the generation, which has"},
		{"location outside the repository", func(g *generation) {
			p := g.repodata("primary")
			resign(t, g, signer, func(md []byte) []byte {
				return bytes.Replace(md, []byte(`href="`+strings.TrimPrefix(p, testBase)), []byte(`href="../`+strings.TrimPrefix(p, testBase)), 1)
			})
		}, "is not a path below the repository"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := good()
			tc.break_(g)
			err := f.Verify(context.Background(), g.input())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to name %q", err, tc.want)
			}
			if errors.Is(err, repo.ErrBadPackage) {
				t.Errorf("a broken generation is not a bad package: %v", err)
			}
		})
	}
}

// resign rewrites repomd.xml with edit and signs it again.
func resign(t testing.TB, g *generation, s repo.Signer, edit func([]byte) []byte) {
	t.Helper()
	p := testBase + "repodata/repomd.xml"
	md := edit(g.data[p])
	sig, err := s.DetachSign(md)
	if err != nil {
		t.Fatal(err)
	}
	g.put(p, md, repo.KindRoot)
	g.put(p+".asc", sig, repo.KindRoot)
}

// fixRepomdEntry states b's size and sha256 for the data entry of path p.
func fixRepomdEntry(md []byte, p string, b []byte) []byte {
	href := []byte(`href="` + strings.TrimPrefix(p, testBase) + `"`)
	at := bytes.Index(md, href)
	start := bytes.LastIndex(md[:at], []byte("<data "))
	end := at + bytes.Index(md[at:], []byte("</data>"))
	entry := string(md[start:end])
	sum := sha256.Sum256(b)
	lines := strings.Split(entry, "\n")
	for i, l := range lines {
		switch {
		case strings.Contains(l, "<checksum "):
			lines[i] = `    <checksum type="sha256">` + hex.EncodeToString(sum[:]) + "</checksum>"
		case strings.Contains(l, "<size>"):
			lines[i] = fmt.Sprintf("    <size>%d</size>", len(b))
		}
	}
	return slices.Concat(md[:start], []byte(strings.Join(lines, "\n")), md[end:])
}

// BenchmarkVerify10k reads back a 10,000-package generation, the check
// that runs before every publish goes live; compare its cpu-ms/op with
// BenchmarkIndexAddOne10k (a publish after one upload) and
// BenchmarkIndex10k.
func BenchmarkVerify10k(b *testing.B) {
	for _, c := range []string{CompressionGzip, CompressionZstd} {
		b.Run(c, func(b *testing.B) {
			f := New(Config{Compression: c})
			g := newGeneration(b, f, syntheticPackages(10000), newSigner(b, "Pier Bench"))
			for i := range g.files { // the synthetic packages all claim one size
				if g.files[i].Kind == repo.KindPackage {
					g.files[i].Size = 250000
				}
			}
			in := g.input()
			// full: a Format that did not write the generation (pier
			// verify, another process) decompresses everything; memo: the
			// Format that wrote it, as in a publish (fast path).
			for _, mode := range []string{"full", "memo"} {
				b.Run(mode, func(b *testing.B) {
					defer reportCPU(b)()
					for b.Loop() {
						v := f
						if mode == "full" {
							v = New(Config{Compression: c})
						}
						if err := v.Verify(context.Background(), in); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
