package rpm

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/pierhq/pier/repo"
)

var _ repo.Rewriter = (*Format)(nil)

// WithSigningKey returns a copy of f that signs packages at ingest with key
// when the config asks for it (SignPackages, SignTargets). The key should be
// RSA: go-rpmutils writes its signatures into the RSA/PGP tags whatever the
// algorithm, as rpm does only for RSA.
func (f *Format) WithSigningKey(key *packet.PrivateKey) *Format {
	g := *f
	g.signKey = key
	return &g
}

// signs reports whether packages uploaded to t are signed at ingest.
func (f *Format) signs(t repo.Target) bool {
	if !f.cfg.SignPackages || f.signKey == nil {
		return false
	}
	if len(f.cfg.SignTargets) == 0 {
		return true
	}
	for _, p := range f.cfg.SignTargets {
		if ok, _ := path.Match(p, t.String()); ok {
			return true
		}
	}
	return false
}

// Rewrite signs the rpm in r for targets that want signed packages, the
// way rpmsign does: a header-only signature (RSA tag 268) and a
// header+payload signature (PGP tag 1002), SHA-256, placed in the signature
// header's reserved space when it fits. The main header and payload are
// copied unchanged. It returns false for targets that do not sign.
func (f *Format) Rewrite(ctx context.Context, t repo.Target, r io.ReaderAt, size int64, w io.Writer) (bool, error) {
	if !f.signs(t) {
		return false, nil
	}
	hdr, err := rpmutils.SignRpmStream(io.NewSectionReader(r, 0, size), f.signKey,
		&rpmutils.SignatureOptions{Hash: crypto.SHA256, CreationTime: time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return false, repo.BadPackage(fmt.Sprintf("cannot sign this rpm: %v", err))
	}
	sig, err := hdr.DumpSignatureHeader(true)
	if err != nil {
		return false, fmt.Errorf("rpm: write signature header: %w", err)
	}
	if _, err := io.Copy(w, io.MultiReader(bytes.NewReader(sig),
		io.NewSectionReader(r, int64(hdr.OriginalSignatureHeaderSize()), size))); err != nil {
		return false, fmt.Errorf("rpm: write signed package: %w", err)
	}
	return true, ctx.Err()
}
