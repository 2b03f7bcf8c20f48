package deb

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// fakeSigner signs deterministically without a key: enough for golden
// files. It mimics go-crypto's output shape (no newline after the END line
// of a clear-signed message).
type fakeSigner struct{}

func (fakeSigner) ClearSign(msg []byte) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n")
	for _, line := range bytes.SplitAfter(msg, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("-")) {
			b.WriteString("- ")
		}
		b.Write(line)
	}
	fmt.Fprintf(&b, "-----BEGIN PGP SIGNATURE-----\n\nfake-%x\n-----END PGP SIGNATURE-----", sha256.Sum256(msg))
	return b.Bytes(), nil
}

func (fakeSigner) DetachSign(msg []byte) ([]byte, error) {
	return fmt.Appendf(nil, "-----BEGIN PGP SIGNATURE-----\n\nfake-%x\n-----END PGP SIGNATURE-----\n", sha256.Sum256(msg)), nil
}

func (fakeSigner) PublicKey() []byte {
	return []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nfake\n-----END PGP PUBLIC KEY BLOCK-----\n")
}

// sumsOf computes the digests the deb format asks for.
func sumsOf(b []byte) repo.Sums {
	m := md5.Sum(b)
	s1 := sha1.Sum(b)
	s256 := sha256.Sum256(b)
	return repo.Sums{
		repo.MD5:    hex.EncodeToString(m[:]),
		repo.SHA1:   hex.EncodeToString(s1[:]),
		repo.SHA256: hex.EncodeToString(s256[:]),
	}
}

func build(t testing.TB, opts debtest.Options) []byte {
	t.Helper()
	b, err := debtest.Build(opts)
	if err != nil {
		t.Fatalf("debtest.Build: %v", err)
	}
	return b
}

func read(f *Format, b []byte) (*repo.Parsed, error) {
	return f.Read(context.Background(), bytes.NewReader(b), int64(len(b)), sumsOf(b))
}

// ingest reads b as the core would and returns the catalog record.
func ingest(t testing.TB, f *Format, component string, b []byte) repo.Package {
	t.Helper()
	p, err := read(f, b)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	sums := sumsOf(b)
	return repo.Package{
		Component: component,
		Name:      p.Name,
		Version:   p.Version,
		Arch:      p.Arch,
		Size:      int64(len(b)),
		Sums:      sums,
		SHA256:    sums[repo.SHA256],
		Meta:      p.Meta,
	}
}

func isCI() bool { return os.Getenv("CI") == "true" }
