// Package repo is Pier's domain: targets, packages, the catalog view, ingest,
// publishing of immutable generations and the formats that plug into them.
//
// The core never switches on a format's name: everything a format knows lives
// behind the Format interface, implemented once per format in repo/deb,
// repo/rpm and repo/apk.
package repo

import (
	"cmp"
	"context"
	"crypto"
	"fmt"
	"io"
	"slices"
	"time"
)

// Digest names a hash that a format wants computed over uploaded package
// bytes. The ingest path computes exactly the digests the format asks for, in
// the same pass that writes the upload to disk.
type Digest string

// Digests Pier knows how to compute.
const (
	MD5    Digest = "md5"
	SHA1   Digest = "sha1"
	SHA256 Digest = "sha256"
	SHA512 Digest = "sha512"
)

// Hash returns the crypto.Hash for d.
func (d Digest) Hash() crypto.Hash {
	switch d {
	case MD5:
		return crypto.MD5
	case SHA1:
		return crypto.SHA1
	case SHA512:
		return crypto.SHA512
	default:
		return crypto.SHA256
	}
}

// Sums maps a digest to its lower-case hex value. SHA256 is always present.
type Sums map[Digest]string

// Parsed is what a format's reader extracts from one package file.
type Parsed struct {
	Name    string // package name as the format's clients know it
	Version string // full version string (epoch, release/revision included)
	Arch    string // architecture as written in the package ("amd64", "all", "x86_64", "noarch"…)
	// Meta is the format's own record of the package, stored in the catalog
	// at ingest and handed back to the format's Indexer at publish time, so
	// that a publish never re-reads package files. Its encoding is private to
	// the format (JSON in practice).
	Meta []byte
	// Needs are the files the package consists of besides its own file, as
	// the package names them (a Debian source package's .dsc lists its
	// tarballs). The core takes them from the same upload (Service.IngestSet),
	// checks each one's size and every digest given, stores them and records
	// them as the package's Extra blobs; an upload without one of them is
	// refused naming it. Empty for packages that are one file.
	Needs []NeededFile
}

// NeededFile is one file a package consists of besides its own file, as the
// package names it.
type NeededFile struct {
	// Name is the file's name (no directory), as the package lists it.
	Name string
	// Size is the size the package states.
	Size int64
	// Sums are the digests the package states (lower-case hex); the core
	// checks every one of them. SHA256 is required.
	Sums Sums
}

// Blob names stored bytes by their sha256 and size.
type Blob struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Reader reads package files of one format.
type Reader interface {
	// Sniff reports whether head (the first bytes of a file, at least 512
	// when the file is that long) looks like a package of this format.
	Sniff(head []byte) bool
	// Read parses the package in r (size bytes long, with digests sums
	// already computed) and returns its metadata. Errors about the package's
	// content wrap ErrBadPackage.
	Read(ctx context.Context, r io.ReaderAt, size int64, sums Sums) (*Parsed, error)
}

// Tapper is implemented by formats that check part of a package while
// its bytes are received, in the one read that hashes and stores them, so
// that reading it afterwards does not read those bytes again (rpm: the
// payload digests).
type Tapper interface {
	// Tap returns a writer that receives every byte of one upload, in
	// order, as it is received. Its Write never fails: what it cannot
	// check, ReadTapped checks from the file.
	Tap() io.Writer
	// ReadTapped is Read for an upload whose every byte went through tap
	// (one that Tap returned): it accepts and refuses exactly what Read
	// does.
	ReadTapped(ctx context.Context, r io.ReaderAt, size int64, sums Sums, tap io.Writer) (*Parsed, error)
}

// Target names one published repository: stream + distro + release.
type Target struct {
	Stream  string `json:"stream"`
	Distro  string `json:"distro"`
	Release string `json:"release"`
}

// String returns "stream/distro/release".
func (t Target) String() string { return t.Stream + "/" + t.Distro + "/" + t.Release }

// Package is one package as recorded in the catalog for a target.
type Package struct {
	ID        int64  `json:"-"`
	Component string `json:"component"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	Arch      string `json:"architecture"`
	Size      int64  `json:"size"`
	Sums      Sums   `json:"-"`
	SHA256    string `json:"sha256"`
	// OrigSHA256 is the sha256 of the bytes as uploaded when the format
	// rewrote them at ingest (rpm signing); empty otherwise.
	OrigSHA256 string `json:"original_sha256,omitempty"`
	// Extra are the blobs the package consists of besides its own (a
	// source package's tarballs, Parsed.Needs), in the order the package
	// lists them. They live as long as the row: garbage collection keeps
	// every blob a row names, and the format's indexer publishes them.
	Extra    []Blob    `json:"extra,omitempty"`
	Meta     []byte    `json:"-"`
	Uploaded time.Time `json:"uploaded"`
}

// SameUpload reports whether q is a re-upload of p: the same published
// bytes, or the same bytes as uploaded before a rewrite (rpm signing).
func (p *Package) SameUpload(q *Package) bool {
	orig := func(x *Package) string {
		if x.OrigSHA256 != "" {
			return x.OrigSHA256
		}
		return x.SHA256
	}
	return p.SHA256 == q.SHA256 || orig(p) == orig(q)
}

// Kind classifies a published file. It decides caching (immutable or
// revalidate) and the order in which a sync uploads files.
type Kind int

// Kinds, in the order a mirror sync must upload them.
const (
	KindPackage Kind = iota // package files: immutable
	KindHashed              // content-addressed index files (by-hash, checksum-named): immutable
	KindIndex               // plain index files at stable paths: revalidate
	KindRoot                // signed roots (InRelease, repomd.xml, APKINDEX.tar.gz): revalidate, uploaded last
)

// File is one file of a published generation, named by its path relative to
// Pier's public root (for example "deb/5.8/dists/bookworm/InRelease").
type File struct {
	Path string `json:"p"`
	// SHA256 and Size name a blob in the blob store. Indexers set them for
	// package files; for new index files they leave them empty and set Data.
	SHA256 string `json:"h"`
	Size   int64  `json:"s"`
	Kind   Kind   `json:"k"`
	// Order sorts roots among themselves (lower first) during a sync.
	Order int `json:"o,omitempty"`
	// Data holds the bytes of an index file produced by the indexer. The
	// publisher stores it as a blob and fills SHA256 and Size.
	Data []byte `json:"-"`
}

// Signer signs roots with Pier's OpenPGP key(s).
type Signer interface {
	// ClearSign returns the clear-signed form of msg (for InRelease).
	ClearSign(msg []byte) ([]byte, error)
	// DetachSign returns an ASCII-armored detached signature of msg.
	DetachSign(msg []byte) ([]byte, error)
	// PublicKey returns the armored public key block.
	PublicKey() []byte
}

// IndexInput is everything an Indexer needs to publish one target.
type IndexInput struct {
	Target Target
	// Packages of the target, in no particular order. For a KeyIndexer
	// they may be keys only (see KeyIndexer): Meta, Sums and Extra unset.
	Packages []Package
	// Time is the publish time: it goes into Date fields and timestamps.
	// It is never earlier than the previous generation's Time, and later
	// by at least the format's Spacing when it is a Spacer.
	Time   time.Time
	Signer Signer
	// Previous reads the files of the target's current generation (the one
	// this publish replaces), nil when there is none. An indexer may reuse
	// what it finds there (compressed blocks whose input did not change)
	// instead of computing it again, as long as its output stays the same
	// as without it.
	Previous PreviousFiles
	// Rows reads the whole rows (Meta, Sums and Extra) of the target's
	// packages with the given ids, in no particular order: how a
	// KeyIndexer given keys reads the rows it needs. Nil when the
	// packages are whole.
	Rows func(ctx context.Context, ids []int64) ([]Package, error)
	// PreviousIDs returns the catalog ids of the packages of the
	// generation Previous reads (ascending); nil when Previous is nil.
	PreviousIDs func(ctx context.Context) ([]int64, error)
}

// WholeRows returns in with every package's whole row, read through Rows
// in id order: what a KeyIndexer given keys does when it needs them all.
func (in *IndexInput) WholeRows(ctx context.Context) (*IndexInput, error) {
	if in.Rows == nil {
		return nil, fmt.Errorf("%s: packages without metadata and no way to read them", in.Target)
	}
	ids := make([]int64, len(in.Packages))
	for i := range in.Packages {
		ids[i] = in.Packages[i].ID
	}
	rows, err := in.Rows(ctx, ids)
	if err != nil {
		return nil, err
	}
	if len(rows) != len(ids) {
		return nil, fmt.Errorf("%s: read %d of %d package rows", in.Target, len(rows), len(ids))
	}
	slices.SortFunc(rows, func(a, b Package) int { return cmp.Compare(a.ID, b.ID) })
	whole := *in
	whole.Packages = rows
	return &whole, nil
}

// KeyIndexer is implemented by formats whose Index can work from the
// target's package keys (PackageKeys: no Meta, Sums or Extra) and read
// only the rows it needs through IndexInput.Rows, reusing the previous
// generation for the rest (rpm: a new process adding one package to
// 10,000 reads the rows of about one block of repodata, not 10,000). The
// publisher hands keys only when its row cache does not hold the target's
// rows; the output must be the one whole rows give.
type KeyIndexer interface {
	// IndexesKeys reports whether this format, as configured, can be
	// handed keys (rpm: with its member cache and gzip repodata).
	IndexesKeys() bool
}

// PreviousFiles reads the files of a target's current generation.
type PreviousFiles interface {
	// ReadFile returns the bytes of the file at path (relative to Pier's
	// public root), or an error wrapping fs.ErrNotExist when the
	// generation has no such file.
	ReadFile(ctx context.Context, path string) ([]byte, error)
}

// Preparer is implemented by formats that can read ahead, from the
// target's current generation, what their next Index will reuse (rpm: the
// compressed members of the previous repodata). The publisher calls
// Prepare while it reads the target's packages, and Index only after
// Prepare has returned; Prepare must not change what Index writes, only
// how soon. Errors only mean nothing was read ahead.
type Preparer interface {
	Prepare(ctx context.Context, t Target, prev PreviousFiles)
}

// PreviousSums is implemented by PreviousFiles that know the sha256 of
// each file without reading it (the core's: from the manifest), so that a
// format can tell a file it wrote itself from its checksum alone.
type PreviousSums interface {
	// SHA256 returns the lower-case hex sha256 of the file at path, or an
	// error wrapping fs.ErrNotExist.
	SHA256(ctx context.Context, path string) (string, error)
}

// Indexer writes a format's repository files for one target.
type Indexer interface {
	// Index returns every file of the target's new generation: package files
	// (by blob) and index files (by Data). Output must be deterministic for a
	// given input.
	Index(ctx context.Context, in *IndexInput) ([]File, error)
}

// Format is one package format (deb, rpm, apk) wired into the core.
type Format interface {
	// Name is the format's short name ("deb").
	Name() string
	Reader
	Indexer
	// Compare orders two versions the way the format's clients do:
	// negative if a < b, 0 if equal, positive if a > b.
	Compare(a, b string) int
}

// Spacer is implemented by formats whose clients need the generations of a
// target dated at least Spacing apart (deb: apt ignores a Release whose Date
// is not newer than the one it has, and Date has second resolution). The
// publisher then dates a new generation at least Spacing after the current
// one, coalescing requests rather than waiting where it can. Formats
// without it are never delayed: their generations may share a second.
type Spacer interface {
	Spacing() time.Duration
}

// PackagePather is implemented by formats that can name, at upload time,
// the path a package will be published at.
type PackagePather interface {
	PackagePath(t Target, p *Package) string
}

// SetupInfo is what a format needs to write client setup instructions.
type SetupInfo struct {
	// BaseURL is Pier's public URL without a trailing slash.
	BaseURL string
	// Components are the target's components ("main" when it has none yet).
	Components []string
	// Fingerprint is the primary OpenPGP key's fingerprint.
	Fingerprint string
	// Fingerprints are every signing key's fingerprint, primary first (all
	// of them sign every root during a key rotation).
	Fingerprints []string
	// Private is set when the target requires a read token: the setup text
	// then says how the client sends it (HTTP Basic, token as password).
	Private bool
}

// SetupWriter is implemented by formats that can tell a user how to add a
// target to their package manager.
type SetupWriter interface {
	Setup(t Target, info SetupInfo) string
}

// Rewriter is implemented by formats that may rewrite a package at ingest,
// such as rpm signing. Rewrite reads the uploaded package from r and, if t
// wants it rewritten, writes the bytes to publish to w and returns true; it
// returns false (and writes nothing) to keep the upload as it is.
type Rewriter interface {
	Rewrite(ctx context.Context, t Target, r io.ReaderAt, size int64, w io.Writer) (bool, error)
}

// VerifyInput is a generation as it is about to go live, handed to the
// format to read back the way its clients will.
type VerifyInput struct {
	Target Target
	// Files are every file of the generation, sorted by path, each with
	// SHA256 and Size set (Data is nil).
	Files []File
	// Read returns the bytes of one file of the generation, checked
	// against its SHA256. It is safe for concurrent use. Formats call it for roots and indexes, never for
	// package files (the core checks those against the blob store).
	Read func(ctx context.Context, f File) ([]byte, error)
	// PublicKeys is the armored OpenPGP key ring whose keys sign the roots
	// (every key of the ring signs every root). Formats with their own keys
	// (apk's RSA key) verify with those.
	PublicKeys []byte
}

// Verifier is implemented by formats that can check a generation before it
// goes live. The core calls it after every file is stored and before the
// generation is switched to; an error keeps the previous generation live.
type Verifier interface {
	// Verify checks in as a client would: every root parses and its
	// signatures verify, every index a root names is in Files with the size
	// and digests the root states, every index parses, and every package
	// an index names is in Files with the size and sha256 the index states.
	// Errors name the file and the check that failed.
	Verify(ctx context.Context, in *VerifyInput) error
}

// Alias is a second root at which a target's files are also served: the
// distro-less paths of Pier's first releases (deb/<stream>/dists/<release>,
// apk/<stream>/<release>), kept for the users whose sources name them.
// Several targets can want the same alias (5.8/debian/bookworm and
// 5.8/ubuntu/bookworm both want deb/5.8/dists/bookworm); the first target
// to claim it holds it for ever, so an alias never changes meaning.
type Alias struct {
	// Claim names the alias root the target claims, for example
	// "deb/5.8/dists/bookworm/".
	Claim string
	// From and To map paths: a file of the target at From+rest is also
	// served at To+rest, with the same bytes, when the target holds Claim.
	From, To string
}

// Layout is implemented by formats that can say where a target's files are
// published. The core uses it to serve aliases, to keep two targets from
// ever publishing the same path with different bytes, and to answer for
// paths under a private target that do not exist.
type Layout interface {
	// Prefixes returns the path prefixes (each ending in "/") under which
	// t's canonical files are published. A prefix may be shared with other
	// targets (a deb pool shared by the releases of a stream and distro).
	Prefixes(t Target) []string
	// Alias returns t's alias, and false when the format has none.
	Alias(t Target) (Alias, bool)
}

// Outdater is implemented by formats whose generations written by an older
// Pier lack files that clients configured by today's setup fetch (deb:
// Sources, which the setup's deb-src lines need): the reconciler publishes
// such a target again, as it does a generation from before canonical
// paths.
type Outdater interface {
	// Outdated reports whether the generation of t with files lacks what
	// the format writes now.
	Outdated(t Target, files []File) bool
}
