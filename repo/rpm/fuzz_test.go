package rpm

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/pierhq/pier/repo"
)

// FuzzRead feeds arbitrary bytes to the reader (see checkRead).
func FuzzRead(f *testing.F) {
	for _, name := range append([]string{legacyFixture}, fixtureFiles...) {
		b := readFixture(f, name)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add(rpmSpec{main: basicMain("a", "1", "1", "noarch",
		tv{rpmutils.BASENAMES, []string{"x"}}, tv{rpmutils.DIRNAMES, []string{"/etc/"}}, tv{rpmutils.DIRINDEXES, []uint32{0}},
		tv{rpmutils.FILEMODES, []uint16{0o100644}}, tv{rpmutils.FILEFLAGS, []uint32{0}},
		tv{rpmutils.REQUIRENAME, []string{"libc.so.6(GLIBC_2.3)", "libc.so.6(GLIBC_2.34)"}},
		tv{rpmutils.REQUIREFLAGS, []uint32{0, 0}}, tv{rpmutils.REQUIREVERSION, []string{"", ""}},
		tv{rpmutils.CHANGELOGTIME, []uint32{5, 5}}, tv{rpmutils.CHANGELOGNAME, []string{"a", "b"}},
		tv{rpmutils.CHANGELOGTEXT, []string{"x\x01", "y"}})}.build())
	f.Add(rpmSpec{noSHA: true, md5: true, payload: []byte("payload"), main: basicMain("b", "1", "1", "x86_64")}.build())
	f.Add(rpmSpec{noRegion: true, sha1: true, main: basicMain("c", "1", "1", "x86_64")}.build())
	f.Add(shrinkSigRegion(f, readFixture(f, "greet-1.0-1.noarch.rpm"), 0)) // digests after the region
	f.Add([]byte{})
	fm := newFuzzFormat(f)
	f.Fuzz(func(t *testing.T, b []byte) { checkRead(t, fm, b) })
}

// fuzzLead is a valid rpm lead (rpmLeadRead's checks pass).
func fuzzLead(t testing.TB) []byte { return readFixture(t, "greet-1.0-1.noarch.rpm")[:leadSize] }

// wrapRPM assembles an rpm from a lead, a signature header and the rest.
func wrapRPM(lead, sig, rest []byte) []byte {
	b := append(bytes.Clone(lead), sig...)
	b = append(b, make([]byte, (8-len(sig)%8)%8)...)
	return append(b, rest...)
}

// FuzzHeader fuzzes the main header alone: each input is wrapped into an
// rpm with an empty payload whose signature header carries the correct
// SHA-256 of it and MD5 of it and the payload, so mutations get past the
// digest checks and reach the header checks and the tag parsing (a
// payload digest in the fuzzed header must then match the empty payload).
func FuzzHeader(f *testing.F) {
	for _, name := range append([]string{legacyFixture}, fixtureFiles...) {
		p := splitRPM(f, readFixture(f, name))
		del(&p.main, tagPayloadDigest)
		del(&p.main, tagPayloadDigestAlt)
		f.Add(p.mainHeaderBytes())
	}
	empty := sha256.Sum256(nil)
	f.Add(encodeRegion(basicMain("a", "1", "1", "noarch",
		tv{rpmutils.REQUIRENAME, []string{"libc.so.6(GLIBC_2.3)", "libc.so.6(GLIBC_2.34)", "rpmlib(X)", "/etc/x"}},
		tv{rpmutils.REQUIREFLAGS, []uint32{0, 0, 8, 0}}, tv{rpmutils.REQUIREVERSION, []string{"", "", "1:2-3", ""}},
		tv{rpmutils.OLDFILENAMES, []string{"/etc/x"}}, tv{rpmutils.FILEMODES, []uint16{0o040755}}, tv{rpmutils.FILEFLAGS, []uint32{64}},
		tv{tagPayloadDigest, []string{hex.EncodeToString(empty[:])}}), regionImmutable))
	lead := fuzzLead(f)
	fm := newFuzzFormat(f)
	f.Fuzz(func(t *testing.T, hdr []byte) {
		sum := sha256.Sum256(hdr)
		m := md5.Sum(hdr)
		sig := encodeRegion([]tv{{sigTagSHA256, hex.EncodeToString(sum[:])}, {sigTagMD5, m[:]}, {sigTagSize, []uint32{uint32(len(hdr))}}}, regionSignatures)
		checkRead(t, fm, wrapRPM(lead, sig, hdr))
	})
}

// FuzzSignatureHeader fuzzes the signature header of real packages: the
// digests' types, sizes and values, the OpenPGP signature packets and
// rpm's rules for which digest failures count.
func FuzzSignatureHeader(f *testing.F) {
	greet := readFixture(f, "greet-1.0-1.noarch.rpm")
	l, err := readLayout(bytes.NewReader(greet), int64(len(greet)), DefaultMaxHeaderSize)
	if err != nil {
		f.Fatal(err)
	}
	rest := greet[l.start:]
	keys := newTestKeys(f)
	sig := func(edit func(p *rpmParts)) {
		p := splitRPM(f, greet)
		edit(p)
		b := p.bytes()
		lb, _ := readLayout(bytes.NewReader(b), int64(len(b)), DefaultMaxHeaderSize)
		f.Add(b[leadSize:lb.start])
	}
	sig(func(p *rpmParts) {})
	sig(func(p *rpmParts) { del(&p.sig, sigTagSHA1) })
	sig(func(p *rpmParts) {
		s := sigOver(f, keys.rsa, l.mainHeader(), nil)
		set(&p.sig, sigTagRSA, typeBin, uint32(len(s)), s)
		w := sigOver(f, keys.eddsa, rest, nil)
		set(&p.sig, sigTagGPG, typeBin, uint32(len(w)), w)
	})
	sig(func(p *rpmParts) {
		v := v3Sig(l.mainHeader(), 7)
		set(&p.sig, sigTagRSA, typeBin, uint32(len(v)), v)
	})
	lead := fuzzLead(f)
	fm := newFuzzFormat(f)
	f.Fuzz(func(t *testing.T, sigHdr []byte) {
		checkRead(t, fm, wrapRPM(lead, sigHdr, rest))
	})
}

// FuzzSignaturePacket fuzzes rpm's OpenPGP signature parser: no panic, and
// a packet it accepts can be checked against a digest.
func FuzzSignaturePacket(f *testing.F) {
	keys := newTestKeys(f)
	for _, k := range []*packet.PrivateKey{keys.rsa, keys.eddsa, keys.ecdsa} {
		f.Add(sigOver(f, k, []byte("data"), nil))
	}
	f.Add(v3Sig([]byte("data"), 1))
	f.Add([]byte{0x88, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSignaturePacket(b)
		if err != nil {
			return
		}
		if h := s.newHash(); h != nil {
			h.Write([]byte("data"))
			s.finish(h)
		}
	})
}

// newFuzzFormat returns the reader under fuzz, with an EdDSA key (fast to
// sign with) so that checkRead also signs what it accepts.
func newFuzzFormat(t testing.TB) *Format {
	return New(Config{SignPackages: true}).WithSigningKey(newTestKeys(t).eddsa)
}

// checkRead reads b: the reader must not panic, must fail only with a bad
// package error, and whatever it accepts must publish as well-formed XML
// and sign (unless it is an rpm v3 package, which rpmsign refuses) into a
// package that reads back as the same package.
func checkRead(t *testing.T, fm *Format, b []byte) {
	sum := sha256.Sum256(b)
	hexSum := hex.EncodeToString(sum[:])
	p, err := fm.Read(context.Background(), bytes.NewReader(b), int64(len(b)), repo.Sums{repo.SHA256: hexSum})
	if err != nil {
		if !errors.Is(err, repo.ErrBadPackage) {
			t.Fatalf("error is not a bad package: %v", err)
		}
		return
	}
	files, err := fm.Index(context.Background(), &repo.IndexInput{
		Target:   testTarget,
		Packages: []repo.Package{{Name: p.Name, Version: p.Version, Arch: p.Arch, Size: int64(len(b)), SHA256: hexSum, Meta: p.Meta}},
		Time:     fixtureTime,
	})
	if err != nil {
		t.Fatalf("index of an accepted package: %v", err)
	}
	for _, f := range files {
		if f.Kind != repo.KindHashed {
			continue
		}
		if err := wellFormed(decompress(t, f.Path, f.Data)); err != nil {
			t.Fatalf("%s is not well-formed: %v", f.Path, err)
		}
	}
	var signed bytes.Buffer
	changed, err := fm.Rewrite(context.Background(), testTarget, bytes.NewReader(b), int64(len(b)), &signed)
	switch {
	case err != nil && !(errors.Is(err, repo.ErrBadPackage) && strings.Contains(err.Error(), "v3")):
		t.Fatalf("signing an accepted package: %v", err)
	case err == nil && changed:
		q, err := fm.Read(context.Background(), bytes.NewReader(signed.Bytes()), int64(signed.Len()), nil)
		if err != nil {
			t.Fatalf("the signed package does not read: %v", err)
		}
		lb, _ := readLayout(bytes.NewReader(b), int64(len(b)), DefaultMaxHeaderSize)
		ls, _ := readLayout(bytes.NewReader(signed.Bytes()), int64(signed.Len()), DefaultMaxHeaderSize)
		if q.Name != p.Name || q.Version != p.Version || q.Arch != p.Arch || !bytes.Equal(b[lb.start:], signed.Bytes()[ls.start:]) {
			t.Fatalf("signing changed the package: %s %s %s", q.Name, q.Version, q.Arch)
		}
	}
}

// wellFormed reports whether b is a well-formed XML document.
func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// syntheticPackages returns n catalog packages with realistic metadata:
// a dozen dependencies, 40 files and 10 changelog entries each.
func syntheticPackages(n int) []repo.Package {
	pkgs := make([]repo.Package, n)
	for i := range pkgs {
		pkgs[i] = syntheticPackage(fmt.Sprintf("package-%05d", i), i)
	}
	return pkgs
}

// syntheticPackage returns one package like syntheticPackages' i-th, named
// name.
func syntheticPackage(name string, i int) repo.Package {
	return syntheticRecord(syntheticInfo(name, i), i)
}

// syntheticRecord returns p as a catalog record uploaded i seconds after
// fixtureTime.
func syntheticRecord(p *pkgInfo, i int) repo.Package {
	sum := sha256.Sum256([]byte(p.Name))
	return repo.Package{Name: p.Name, Version: p.fullVersion(), Arch: p.Arch, Size: 250000,
		SHA256: hex.EncodeToString(sum[:]), Meta: encodeMeta(p), Uploaded: fixtureTime.Add(time.Duration(i) * time.Second)}
}

// syntheticInfo returns the parsed form of syntheticPackage(name, i).
func syntheticInfo(name string, i int) *pkgInfo {
	p := &pkgInfo{
		Name: name, Epoch: "0", Version: fmt.Sprintf("%d.%d.%d", i%7, i%13, i%100), Release: "1.el9",
		Arch: []string{"x86_64", "aarch64", "noarch"}[i%3], Summary: "A synthetic package for benchmarks",
		Description: "This package exists to measure how fast Pier publishes a repository. " +
			"Its description is about as long as a typical one, with a second sentence & an ampersand.",
		License: "MIT and BSD", Vendor: "Pier", Group: "Unspecified", URL: "https://example.org/package",
		Packager: "Pier Benchmarks <bench@example.org>", BuildHost: "builder.example.org",
		SourceRPM: name + "-1.0-1.el9.src.rpm", BuildTime: 1735787045,
		InstalledSize: 123456, ArchiveSize: 125000, HeaderStart: 4504, HeaderEnd: 12345,
	}
	for k := 0; k < 4; k++ {
		p.Deps[depProvides] = append(p.Deps[depProvides], dep{Name: fmt.Sprintf("cap%d(%s)", k, name), Flags: "EQ", Epoch: "0", Ver: "1.0", Rel: "1.el9"})
	}
	for k := 0; k < 8; k++ {
		p.Deps[depRequires] = append(p.Deps[depRequires], dep{Name: fmt.Sprintf("lib%d.so.%d()(64bit)", k, i%5)})
	}
	p.Deps[depRequires] = append(p.Deps[depRequires], dep{Name: "/bin/sh", Pre: true})
	for k := 0; k < 40; k++ {
		dir := []string{"/usr/bin/", "/usr/share/doc/package/", "/usr/lib64/package/", "/etc/package/"}[k%4]
		p.Files = append(p.Files, fileEntry{Path: fmt.Sprintf("%s%s-%02d", dir, name, k)})
	}
	for k := 0; k < 10; k++ {
		p.Changelog = append(p.Changelog, changelogEntry{Author: "Pier Benchmarks <bench@example.org> - 1.0-1",
			Date: uint64(1700000000 + k*86400), Text: "- Fixed a bug that made something slower than it should be"})
	}
	return p
}

// BenchmarkIndex10k publishes a 10,000-package target from catalog Meta
// with nothing cached: the first publish of a server, or pier import.
func BenchmarkIndex10k(b *testing.B) {
	for _, c := range []string{CompressionGzip, CompressionZstd} {
		b.Run(c, func(b *testing.B) {
			pkgs := syntheticPackages(10000)
			in := &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: fixtureTime, Signer: fakeSigner{}}
			var files []repo.File
			defer reportCPU(b)()
			for b.Loop() {
				b.StopTimer()
				f := New(Config{Compression: c})
				b.StartTimer()
				var err error
				if files, err = f.Index(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
			var packed, plain int64
			for _, f := range files {
				if strings.HasSuffix(f.Path, "/repomd.xml") {
					var md repomdXML
					if err := xml.Unmarshal(f.Data, &md); err != nil {
						b.Fatal(err)
					}
					for _, d := range md.Data {
						packed, plain = packed+d.Size, plain+d.OpenSize
					}
				}
			}
			b.ReportMetric(float64(plain)/1e6, "MB-xml")
			b.ReportMetric(float64(packed)/1e6, "MB-compressed")
		})
	}
}

// BenchmarkIndexAddOne10k is the publish after one package was added to a
// 10,000-package target, in a running server: each round adds one more
// package (spread over the name space) to what the previous round
// published, with the Format's cache as the previous round left it.
func BenchmarkIndexAddOne10k(b *testing.B) {
	for _, c := range []string{CompressionGzip, CompressionZstd} {
		b.Run(c, func(b *testing.B) {
			f := New(Config{Compression: c})
			pkgs := syntheticPackages(10000)
			in := &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: fixtureTime, Signer: fakeSigner{}}
			if _, err := f.Index(context.Background(), in); err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(3, 4))
			hits, misses := f.cache.hits.Load(), f.cache.misses.Load()
			rounds := 0
			defer reportCPU(b)()
			for b.Loop() {
				b.StopTimer()
				i := r.IntN(10000)
				in.Packages = append(in.Packages, syntheticPackage(fmt.Sprintf("package-%05d-%d", i, rounds), i))
				rounds++
				b.StartTimer()
				if _, err := f.Index(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(f.cache.misses.Load()-misses)/float64(rounds), "compressed-members/op")
			b.ReportMetric(float64(f.cache.hits.Load()-hits)/float64(rounds), "cached-members/op")
			b.ReportMetric(float64(f.cache.size)/1e6, "cache-MB")
		})
	}
}

// reportCPU reports the process's CPU time per operation (user and
// system, every thread) when the returned function runs: unlike the wall
// time it hardly moves when other work shares the machine.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64(cpu()-start)/float64(b.N)/1e6, "cpu-ms/op")
	}
}
