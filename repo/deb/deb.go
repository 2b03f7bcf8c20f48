// Package deb is Pier's Debian package format: it reads uploaded .deb files
// and writes APT repositories (Packages, Release, InRelease, by-hash) for a
// target.
//
// The reader accepts what dpkg 1.21 (Debian 12) installs and refuses what
// it refuses, rule by rule (docs/acceptance/deb.md lists them with the
// dpkg and apt code each mirrors): it walks the ar archive as dpkg-deb
// does, parses the control file with dpkg's parser rules, and decompresses
// the whole data member and reads its tar archive to the end as dpkg's
// unpacker does, so that a truncated or corrupt upload is refused at
// ingest rather than failing at install. It bounds every size by the file
// and by Config.Limits, so a hostile upload gets a repo.ErrBadPackage error
// that says what is wrong, never a panic or an unbounded allocation.
//
// At ingest the reader stores each package's Packages stanza, pre-rendered
// in apt-ftparchive's field order, as its Meta; the indexer only
// concatenates those fragments with the generated Filename, Size and
// checksum lines, so a publish never re-reads or re-parses a package.
package deb

import (
	"time"

	"github.com/pierhq/pier/internal/fifo"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/entrymemo"
)

// Digests are the digests of an uploaded .deb that this format needs: the
// Packages index lists MD5sum, SHA1 and SHA256. The core computes them
// while it streams the upload and passes them to Read.
var Digests = []repo.Digest{repo.MD5, repo.SHA1, repo.SHA256}

// Format is the deb format. Create it with New; it is safe for concurrent
// use and holds no state besides its configuration and a cache of
// compressed index blocks (see cutBlocks), which never changes its output.
type Format struct {
	cfg   Config
	cache *compressCache
	memo  *verifyMemo             // what Verify checked before (verifymemo.go)
	wrote *fifo.Map[string, bool] // sha256 of the Packages and Contents files this process wrote or seeded whole
	// dec keeps decoders of package members for reuse.
	dec decoders
	// entryMemo holds each target's last publish, decoded and sorted
	// (repo/entrymemo).
	entryMemo *entrymemo.Memo[memoValue]
}

var (
	_ repo.Format = (*Format)(nil)
	_ repo.Spacer = (*Format)(nil)
)

// New returns the deb format configured by cfg. Unset fields of cfg get
// their defaults; call cfg.Validate first to report configuration errors.
func New(cfg Config) *Format {
	cfg.Architectures = append([]string(nil), cfg.Architectures...)
	cfg.Release = append([]ReleaseRule(nil), cfg.Release...)
	cfg.Defaults()
	return &Format{cfg: cfg, cache: newCompressCache(DefaultCompressCacheSize), memo: newVerifyMemo(), wrote: fifo.New[string, bool](wroteMax), entryMemo: entrymemo.New[memoValue]()}
}

// Name returns "deb".
func (f *Format) Name() string { return "deb" }

// Spacing is one second (repo.Spacer): Release's Date has second
// resolution, and apt keeps the Release it has when a new one's Date is
// older (acquire-item.cc, the "prevention of downgrading" check), so Date
// must increase with every publish and two generations must not share a
// second.
func (f *Format) Spacing() time.Duration { return time.Second }
