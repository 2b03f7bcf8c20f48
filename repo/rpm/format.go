// Package rpm is Pier's rpm format: it reads .rpm and .src.rpm files,
// publishes yum/dnf/zypper repositories (repodata/repomd.xml with primary,
// filelists and other) and orders versions the way rpm does.
//
// Read accepts exactly the packages rpm 4.18 would install: it checks the
// lead and both header structures as rpm's hdrblobRead does, every digest
// and signature as rpm's package verification does (reading the payload
// once), and the file tables rpm loads for installation (see
// docs/acceptance/rpm.md). It stores each package's share of primary,
// filelists and other as pre-rendered XML in the catalog Meta, so a publish
// is string concatenation plus compression. The XML follows createrepo_c's
// output: the dependency filtering rules, the primary file rule and the
// changelog handling are the same, so dnf, yum and zypper resolve a Pier
// repository exactly as one made by createrepo_c. Rewrite signs packages as
// rpmsign does; Verify reads a generation back before it goes live.
package rpm

import (
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/entrymemo"
)

// Digests are the digests the core must compute over an uploaded rpm: the
// sha256 is the package's pkgid in the repodata.
var Digests = []repo.Digest{repo.SHA256}

// Format implements repo.Format for rpm.
type Format struct {
	cfg     Config
	signKey *packet.PrivateKey         // signs packages at ingest when cfg.SignPackages
	codec   *codec                     // compresses repodata members
	cache   *blockCache                // compressed members of earlier publishes (nil: none)
	bufs    *bufferPool                // buffers members are rendered into
	written *writtenSet                // repodata files this process wrote or seeded, by repository
	memo    *verifyMemo                // what Verify's fast path knows (verifymemo.go)
	entries *entrymemo.Memo[memoValue] // each target's last publish, decoded and sorted
	prev    *seededFiles               // previous repodata read by seeding, for an Index from keys
}

var _ repo.Format = (*Format)(nil)

// New returns the rpm format configured by cfg. Zero fields take their
// defaults; cfg should have passed Validate.
func New(cfg Config) *Format {
	cfg.Defaults()
	c, err := newCodec(cfg.Compression)
	if err != nil { // only a zstd encoder with bad options fails
		c, _ = newCodec(CompressionGzip)
	}
	return &Format{cfg: cfg, codec: c, cache: newBlockCache(cfg.IndexCacheSize), bufs: &bufferPool{},
		written: &writtenSet{m: map[string][]string{}}, memo: newVerifyMemo(), entries: entrymemo.New[memoValue](),
		prev: &seededFiles{m: map[string]*prevFile{}}}
}

// Name returns "rpm".
func (f *Format) Name() string { return "rpm" }

// Compare orders two rpm versions "[E:]V-R" as rpm does: the epochs as
// numbers (absent = 0), then version and release with rpmvercmp, including
// '~' (sorts before anything) and '^' (sorts after the end of the string).
func (f *Format) Compare(a, b string) int {
	return compareEVR(parseEVR(a), parseEVR(b))
}
