package repo

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/storage"
)

// FormatSpec wires one format into the service: the format itself, the
// digests its indexes need (computed while an upload streams to disk) and
// the distros whose targets use it.
type FormatSpec struct {
	Format  Format
	Digests []Digest
	Distros []string
}

// Options configures a Service.
type Options struct {
	// TmpDir receives uploads while they stream in. It must be on the same
	// filesystem as a local blob store so that a finished upload is renamed,
	// not copied.
	TmpDir string
	// LockDir holds the per-target publish locks shared with other processes
	// using the same data directory.
	LockDir string
	// MaxUploadSize is the largest package accepted, in bytes.
	MaxUploadSize int64
	// PublishDelay is how long an upload-triggered publish waits for more
	// uploads to the same target before it runs.
	PublishDelay time.Duration
	// KeepGenerations is how many generations of a target stay servable
	// (the current one included).
	KeepGenerations int
	// PackageCacheBytes bounds the in-memory cache of package rows that
	// spares a publish re-reading unchanged rows; 0 means 256 MiB, negative
	// disables it.
	PackageCacheBytes int64
	// PublishRetry is the first wait before a failed publish is retried by
	// Reconcile; it doubles with each failure in a row, up to 5 minutes.
	// 0 means 5 s.
	PublishRetry time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Observer, when set, is told about every ingest and publish.
	Observer Observer
	// OnChange, when set, is called after the served view changed: a new
	// generation went live (published here or by another process).
	OnChange func()
	// Hook, when set, is called at named points of an upload and a publish.
	// Crash-safety tests use it to kill the process at exact moments.
	Hook func(point string)
}

// Service is Pier's core: it ingests packages, publishes generations and
// answers which blob a public path currently names.
type Service struct {
	cat     Catalog
	blobs   *Blobs
	signer  Signer
	log     *slog.Logger
	opts    Options
	formats atomic.Pointer[map[string]*FormatSpec] // by distro; swapped by SetFormats
	// retention holds the retention rules; swapped by SetRetention.
	retention atomic.Pointer[[]RetentionRule]

	mu   sync.Mutex
	pubs map[Target]*publisher
	wg   sync.WaitGroup

	view      viewHolder
	publishes atomic.Int64
	pkgs      pkgCache
	failMu    sync.Mutex
	failures  map[int64]failure // publish failures seen here, by target id
	// owner tags this process's upload files in TmpDir, so that a cleanup
	// by another process never takes them for a dead writer's.
	owner *storage.Owner
}

// Publishes returns how many publishes this service has run since it
// started (coalesced requests count once).
func (s *Service) Publishes() int64 { return s.publishes.Load() }

// NewService returns a service. It removes upload leftovers of processes
// that are no longer running.
func NewService(cat Catalog, blobs *Blobs, signer Signer, formats []FormatSpec, opts Options, log *slog.Logger) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.KeepGenerations < 1 {
		opts.KeepGenerations = 3
	}
	if opts.PublishRetry <= 0 {
		opts.PublishRetry = 5 * time.Second
	}
	if opts.PackageCacheBytes == 0 {
		opts.PackageCacheBytes = 256 << 20
	}
	s := &Service{cat: cat, blobs: blobs, signer: signer, log: log, opts: opts, pubs: map[Target]*publisher{},
		failures: map[int64]failure{}}
	s.pkgs.limit = opts.PackageCacheBytes
	s.view.manifests = map[string][]File{}
	if err := s.SetFormats(formats); err != nil {
		return nil, err
	}
	for _, dir := range []string{opts.TmpDir, opts.LockDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	// Upload files left by processes that are gone (a crash) are removed;
	// those of a live process (pier import beside pier serve) stay.
	if err := storage.CleanDead(opts.TmpDir, uploadPrefix, '-'); err != nil {
		return nil, err
	}
	owner, err := storage.NewOwner(opts.TmpDir)
	if err != nil {
		return nil, err
	}
	s.owner = owner
	return s, nil
}

// SetFormats replaces the formats and their distro mapping (a config
// reload). Ingests and publishes already running finish with the formats
// they started with.
func (s *Service) SetFormats(formats []FormatSpec) error {
	m := map[string]*FormatSpec{}
	for i := range formats {
		f := &formats[i]
		for _, d := range f.Distros {
			if _, dup := m[d]; dup {
				return fmt.Errorf("distro %q is mapped to two formats: %w", d, ErrInvalid)
			}
			m[d] = f
		}
	}
	s.formats.Store(&m)
	return nil
}

// Close waits for running publishes to finish and releases the service's
// upload files (a later cleanup removes what is left of them).
func (s *Service) Close() {
	s.wg.Wait()
	s.owner.Close()
}

func (s *Service) hook(point string) {
	if s.opts.Hook != nil {
		s.opts.Hook(point)
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$`)

// ParseTarget parses "stream/distro/release" and checks each part.
func ParseTarget(s string) (Target, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return Target{}, fmt.Errorf("target %q is not stream/distro/release: %w", s, ErrInvalid)
	}
	t := Target{Stream: parts[0], Distro: parts[1], Release: parts[2]}
	return t, t.Validate()
}

// Validate checks that each part of t is a safe path element.
func (t Target) Validate() error {
	for _, p := range []struct{ what, v string }{{"stream", t.Stream}, {"distro", t.Distro}, {"release", t.Release}} {
		if !nameRE.MatchString(p.v) || p.v == "." || p.v == ".." {
			return fmt.Errorf("%s %q must be 1-64 letters, digits or ._+~- and start with a letter or digit: %w", p.what, p.v, ErrInvalid)
		}
	}
	return nil
}

// Spec returns the format spec serving distro, or an error wrapping
// ErrInvalid.
func (s *Service) Spec(distro string) (*FormatSpec, error) {
	formats := *s.formats.Load()
	f, ok := formats[distro]
	if !ok {
		known := make([]string, 0, len(formats))
		for d := range formats {
			known = append(known, d)
		}
		slices.Sort(known)
		return nil, fmt.Errorf("unknown distro %q (known: %s): %w", distro, strings.Join(known, ", "), ErrInvalid)
	}
	return f, nil
}

// IngestOptions qualifies one upload.
type IngestOptions struct {
	// Component is the deb component or apk repository ("main" if empty).
	Component string
	// Audit, when set, returns the audit event of the upload of p, called
	// once p is about to be recorded: the catalog writes it in the same
	// transaction as the package (Recorded tells whether it did; a
	// re-upload of the same bytes changes nothing and records nothing).
	Audit func(p *Package) *audit.Event
}

// IngestResult reports what an upload did.
type IngestResult struct {
	Package *Package
	// Created is false when a byte-identical package was already there.
	Created bool
	Target  *TargetInfo
	// Path is where the package is published, when the format can tell.
	Path string
}

// Ingest streams r to disk, hashing it in the same pass, parses it with the
// target's format, moves it into the blob store and records it in the
// catalog. It returns only once the package is durable. It does not publish.
func (s *Service) Ingest(ctx context.Context, t Target, r io.Reader, o IngestOptions) (res *IngestResult, err error) {
	if s.opts.Observer != nil {
		defer func() {
			format := ""
			if spec, serr := s.Spec(t.Distro); serr == nil {
				format = spec.Format.Name()
			}
			s.opts.Observer.Ingested(t, format, res != nil && res.Created, err)
		}()
	}
	st, done, err := s.stage(ctx, t, s.fromReader(r), o, nil)
	if err != nil || done != nil {
		return done, err
	}
	defer st.unlock()
	if o.Audit != nil {
		ctx = audit.WithEvent(ctx, o.Audit(st.pkg))
	}
	got, created, err := s.cat.AddPackage(ctx, st.target.ID, st.pkg)
	if err != nil {
		return nil, err
	}
	return s.recorded(t, st, got, created), nil
}

// staged is a package whose bytes are in the blob store and which is not
// recorded in the catalog yet.
type staged struct {
	target *TargetInfo
	spec   *FormatSpec
	pkg    *Package
	// unlock releases the garbage-collection lock a durable stage takes
	// before it stores the blob; the caller calls it once the package is
	// recorded. A batch holds one lock for all its packages instead.
	unlock func()
}

func (s *Service) recorded(t Target, st *staged, got *Package, created bool) *IngestResult {
	s.hook("upload.recorded")
	if created {
		s.log.Info("package added", "target", t.String(), "name", got.Name, "version", got.Version, "arch", got.Arch,
			"sha256", got.SHA256, "size", got.Size)
	}
	return &IngestResult{Package: got, Created: created, Target: st.target, Path: packagePath(st.spec.Format, t, got)}
}

// stage receives, checks and stores one package. When the package is
// already recorded it returns the final result instead (or a conflict).
// With durable false the blob is moved into place without syncing; the
// caller must sync the blob store before recording it.
func (s *Service) stage(ctx context.Context, t Target, src source, o IngestOptions, b *Batch) (*staged, *IngestResult, error) {
	durable := b == nil
	if err := t.Validate(); err != nil {
		return nil, nil, err
	}
	if o.Component == "" {
		o.Component = "main"
	}
	if !nameRE.MatchString(o.Component) {
		return nil, nil, fmt.Errorf("component %q must be letters, digits or ._+~-: %w", o.Component, ErrInvalid)
	}
	spec, err := s.Spec(t.Distro)
	if err != nil {
		return nil, nil, err
	}
	// The format is checked on the first bytes while they stream in, so a
	// body that is not a package of the target's format is refused at
	// once, not after it was written to disk to its end.
	up, err := src(ctx, recvSpec{digests: spec.Digests, durable: durable, sniff: func(head []byte) error {
		return s.sniff(spec, head, int64(len(head)))
	}})
	if err != nil {
		return nil, nil, err
	}
	defer up.discard()
	s.hook("upload.received")
	if err := s.sniff(spec, up.head, up.size); err != nil {
		return nil, nil, err
	}
	parsed, err := readPackage(ctx, spec.Format, up)
	if err != nil {
		return nil, nil, err
	}
	var ti *TargetInfo
	find := func(name, version, arch string) (*Package, error) {
		return s.cat.FindPackage(ctx, ti.ID, name, version, arch)
	}
	if b != nil {
		ti, find, err = b.lookups(ctx, spec.Format.Name())
	} else {
		ti, err = s.cat.Target(ctx, t, spec.Format.Name())
	}
	if err != nil {
		return nil, nil, err
	}
	p := &Package{Component: o.Component, Name: parsed.Name, Version: parsed.Version, Arch: parsed.Arch,
		Size: up.size, Sums: up.sums, SHA256: up.sums[SHA256], Meta: parsed.Meta, Uploaded: s.opts.Now().UTC()}
	if old, err := find(p.Name, p.Version, p.Arch); err == nil {
		if old.SameUpload(p) {
			return nil, &IngestResult{Package: old, Target: ti, Path: packagePath(spec.Format, t, old)}, nil
		}
		return nil, nil, fmt.Errorf("%s %s (%s) already exists in %s with other content (sha256 %s): %w",
			p.Name, p.Version, p.Arch, t, old.SHA256, ErrConflict)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, nil, err
	}
	if rw, ok := spec.Format.(Rewriter); ok {
		up2, err := s.rewrite(ctx, rw, t, up, spec.Digests, durable)
		if err != nil {
			return nil, nil, err
		}
		if up2 != nil {
			defer up2.discard()
			if parsed, err = readPackage(ctx, spec.Format, up2); err != nil {
				return nil, nil, fmt.Errorf("read rewritten package: %w", err)
			}
			p.OrigSHA256, p.Size, p.Sums, p.SHA256, p.Meta = p.SHA256, up2.size, up2.sums, up2.sums[SHA256], parsed.Meta
			up = up2
		}
	}
	unlock := func() {}
	if durable {
		if unlock, err = s.gcLock(false); err != nil {
			return nil, nil, err
		}
	}
	if err := s.blobs.PutFile(ctx, p.SHA256, up.path, durable); err != nil {
		unlock()
		return nil, nil, err
	}
	up.path = "" // moved
	s.hook("upload.stored")
	return &staged{target: ti, spec: spec, pkg: p, unlock: unlock}, nil, nil
}

// Batch ingests many packages into one target for a bulk import: blobs are
// moved into place without a sync each, and Commit makes them durable with
// one sync and records them in one catalog transaction. Add may be called
// from several goroutines.
type Batch struct {
	s      *Service
	t      Target
	mu     sync.Mutex
	staged []*staged
	// unlock releases the garbage-collection lock held from the first
	// staged blob until Close.
	unlock func()
	// target and existing are read once per batch (a query per package
	// costs more than the package's own parse): the target, and the keys
	// of its live packages (no Meta) when the batch started.
	// Commit still applies the conflict rule in its transaction.
	target   *TargetInfo
	existing map[[3]string]*Package
}

// lookups returns the batch's target and a finder over the packages the
// target held when the batch started, reading both on first use.
func (b *Batch) lookups(ctx context.Context, format string) (*TargetInfo, func(name, version, arch string) (*Package, error), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.target == nil {
		ti, err := b.s.cat.Target(ctx, b.t, format)
		if err != nil {
			return nil, nil, err
		}
		ps, err := b.s.cat.PackageKeys(ctx, ti.ID)
		if err != nil {
			return nil, nil, err
		}
		b.existing = make(map[[3]string]*Package, len(ps))
		for i := range ps {
			p := &ps[i]
			b.existing[[3]string{p.Name, p.Version, p.Arch}] = p
		}
		b.target = ti
	}
	existing, ti := b.existing, b.target
	find := func(name, version, arch string) (*Package, error) {
		if existing[[3]string{name, version, arch}] != nil {
			// Taken: the whole row (with Meta) for the reply.
			return b.s.cat.FindPackage(ctx, ti.ID, name, version, arch)
		}
		return nil, ErrNotFound
	}
	return ti, find, nil
}

// Close releases what the batch holds (its garbage-collection lock). Call
// it after the last Commit; staged packages not committed are left to the
// garbage collector.
func (b *Batch) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.unlock != nil {
		b.unlock()
		b.unlock = nil
	}
}

// NewBatch starts a batch for t.
func (s *Service) NewBatch(t Target) *Batch { return &Batch{s: s, t: t} }

// Add stages one package. It returns a result at once for a package that
// is already recorded; otherwise nil, and Commit reports its result.
func (b *Batch) Add(ctx context.Context, r io.Reader, o IngestOptions) (*IngestResult, error) {
	return b.add(ctx, b.s.fromReader(r), o)
}

// AddLinked is Add for a local file that the blob store takes over by a
// hard link instead of a copy, when the blob store is a directory on the
// same filesystem (otherwise it copies, as Add does). The file is read to
// hash and parse it but never written; it becomes the stored blob (and
// read-only), so it must never be modified in place afterwards.
func (b *Batch) AddLinked(ctx context.Context, path string, o IngestOptions) (*IngestResult, error) {
	return b.add(ctx, b.s.fromLink(path), o)
}

func (b *Batch) add(ctx context.Context, src source, o IngestOptions) (*IngestResult, error) {
	b.mu.Lock()
	if b.unlock == nil {
		unlock, err := b.s.gcLock(false)
		if err != nil {
			b.mu.Unlock()
			return nil, err
		}
		b.unlock = unlock
	}
	b.mu.Unlock()
	st, done, err := b.s.stage(ctx, b.t, src, o, b)
	if err != nil || done != nil {
		return done, err
	}
	b.mu.Lock()
	b.staged = append(b.staged, st)
	b.mu.Unlock()
	return nil, nil
}

// Pending returns how many staged packages wait for Commit.
func (b *Batch) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.staged)
}

// maxAuditNames bounds the package names an audit event of a batch lists.
const maxAuditNames = 100

// Commit syncs the blob store and records every staged package in one
// transaction, with the audit events ctx carries (audit.WithEvent), which
// it fills with the packages it adds. A package that conflicts with one recorded meanwhile gets an
// error in its result's place (errs[i]); the error return is for the batch.
func (b *Batch) Commit(ctx context.Context) (res []*IngestResult, errs []error, err error) {
	b.mu.Lock()
	sts := b.staged
	b.staged = nil
	b.mu.Unlock()
	if len(sts) == 0 {
		return nil, nil, nil
	}
	if err := b.s.blobs.Sync(ctx); err != nil {
		return nil, nil, err
	}
	ps := make([]*Package, len(sts))
	var names []string
	for i, st := range sts {
		ps[i] = st.pkg
		if len(names) < maxAuditNames {
			names = append(names, st.pkg.Name+" "+st.pkg.Version+" "+st.pkg.Arch)
		}
	}
	// The audit events ctx carries record this commit: what it adds.
	for _, e := range audit.Events(ctx) {
		e.Set("added", len(ps))
		e.Set("packages", names)
	}
	out, err := b.s.cat.AddPackages(ctx, sts[0].target.ID, ps)
	if err != nil {
		return nil, nil, err
	}
	res = make([]*IngestResult, len(out))
	errs = make([]error, len(out))
	for i, r := range out {
		if r.Err != nil {
			errs[i] = r.Err
			continue
		}
		res[i] = b.s.recorded(b.t, sts[i], r.Package, r.Added)
	}
	return res, errs, nil
}

func packagePath(f Format, t Target, p *Package) string {
	if pp, ok := f.(PackagePather); ok {
		return pp.PackagePath(t, p)
	}
	return ""
}

// rewrite lets the format rewrite the upload (rpm signing) into a new temp
// file; it returns nil when the format keeps the upload as it is.
func (s *Service) rewrite(ctx context.Context, rw Rewriter, t Target, up *upload, digests []Digest, durable bool) (*upload, error) {
	in, err := os.Open(up.path)
	if err != nil {
		return nil, fmt.Errorf("reopen upload: %w", err)
	}
	defer in.Close()
	pr, pw := io.Pipe()
	type result struct {
		changed bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		changed, err := rw.Rewrite(ctx, t, in, up.size, pw)
		pw.CloseWithError(err)
		done <- result{changed, err}
	}()
	// A format that keeps the upload as it is writes nothing: find that out
	// before creating a second temp file (file creation dominates a bulk
	// import).
	br := bufio.NewReader(pr)
	if _, perr := br.Peek(1); perr != nil {
		pr.CloseWithError(perr)
		res := <-done
		if res.err != nil {
			return nil, res.err
		}
		if !res.changed {
			return nil, nil
		}
		return nil, fmt.Errorf("rewrite of the upload produced no bytes: %w", ErrBadPackage)
	}
	up2, err := s.receive(ctx, br, recvSpec{digests: digests, durable: durable})
	pr.CloseWithError(err)
	res := <-done
	if res.err != nil {
		if up2 != nil {
			up2.discard()
		}
		return nil, res.err
	}
	if err != nil {
		return nil, err
	}
	if !res.changed {
		up2.discard()
		return nil, nil
	}
	return up2, nil
}

func readPackage(ctx context.Context, f Format, up *upload) (parsed *Parsed, err error) {
	file, err := os.Open(up.path)
	if err != nil {
		return nil, fmt.Errorf("reopen upload: %w", err)
	}
	defer file.Close()
	defer func() {
		// A reader bug must not take the server down: report it as a bad package.
		if r := recover(); r != nil {
			parsed, err = nil, BadPackage(fmt.Sprintf("the %s reader failed on this file: %v", f.Name(), r))
		}
	}()
	parsed, err = f.Read(ctx, file, up.size, up.sums)
	if err != nil {
		return nil, err
	}
	if parsed.Name == "" || parsed.Version == "" || parsed.Arch == "" {
		return nil, BadPackage("the package has no name, version or architecture")
	}
	return parsed, nil
}

// sniff checks that an upload of size bytes starting with head is a
// package of the target's format and, if it is not, names the format it is.
func (s *Service) sniff(spec *FormatSpec, head []byte, size int64) error {
	if size == 0 {
		return BadPackage("the upload is empty")
	}
	if spec.Format.Sniff(head) {
		return nil
	}
	for _, other := range *s.formats.Load() {
		if other != spec && other.Format.Sniff(head) {
			return BadPackage(fmt.Sprintf("this is a %s package, but %s targets take %s packages",
				other.Format.Name(), strings.Join(spec.Distros, "/"), spec.Format.Name()))
		}
	}
	return BadPackage(fmt.Sprintf("not a %s package (unrecognised file signature)", spec.Format.Name()))
}

// uploadPrefix starts the name of every upload file in TmpDir, followed by
// the writer's storage.Owner tag and '-'.
const uploadPrefix = "upload-"

// upload is a received file in TmpDir.
type upload struct {
	path string
	size int64
	sums Sums
	head []byte
}

func (u *upload) discard() {
	if u.path != "" {
		os.Remove(u.path)
	}
}

// recvSpec says how to receive an upload: the digests to compute, whether
// to fsync it, and a check of its first bytes (sniffLen of them, or all of
// a shorter upload) that stops the transfer when it fails.
type recvSpec struct {
	digests []Digest
	durable bool
	sniff   func(head []byte) error
}

// sniffLen is how many bytes an upload's format is recognised from.
const sniffLen = 4096

// receive streams r into a temp file, computing digests in the same pass,
// and fsyncs it.
func (s *Service) receive(ctx context.Context, r io.Reader, rs recvSpec) (*upload, error) {
	f, err := os.CreateTemp(s.opts.TmpDir, uploadPrefix+s.owner.Tag()+"-*")
	if err != nil {
		return nil, fmt.Errorf("create upload file: %w", err)
	}
	up := &upload{path: f.Name(), sums: Sums{}}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			up.discard()
		}
	}()
	if err := s.digest(ctx, up, r, f, rs); err != nil {
		return nil, err
	}
	if rs.durable {
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("sync upload: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close upload: %w", err)
	}
	ok = true
	return up, nil
}

// digest reads r to its end (at most the upload limit), copying it to w
// when w is not nil, and fills up's size, digests and head. It stops as
// soon as rs.sniff refuses the first bytes.
func (s *Service) digest(ctx context.Context, up *upload, r io.Reader, w io.Writer, rs recvSpec) error {
	hashes := map[Digest]hash.Hash{SHA256: sha256.New()}
	for _, d := range rs.digests {
		if _, done := hashes[d]; !done {
			hashes[d] = newHash(d)
		}
	}
	var ws []io.Writer
	if w != nil {
		ws = append(ws, w)
	}
	for _, h := range hashes {
		ws = append(ws, h)
	}
	head := &headWriter{max: sniffLen, check: rs.sniff}
	// The head goes first: a refused head stops the copy before anything
	// else of it is written.
	ws = append([]io.Writer{head}, ws...)
	limit := s.opts.MaxUploadSize
	if limit <= 0 {
		limit = 2 << 30
	}
	n, err := io.Copy(io.MultiWriter(ws...), &ctxReader{ctx: ctx, r: io.LimitReader(r, limit+1)})
	if head.err != nil {
		return head.err
	}
	if err != nil {
		return fmt.Errorf("receive upload: %w", err)
	}
	if n > limit {
		return fmt.Errorf("upload is larger than the limit of %d bytes: %w", limit, ErrTooLarge)
	}
	up.size = n
	up.head = head.buf
	for d, h := range hashes {
		up.sums[d] = hex.EncodeToString(h.Sum(nil))
	}
	return nil
}

// source produces an upload in the temp dir, received as rs says.
type source func(ctx context.Context, rs recvSpec) (*upload, error)

// fromReader streams r into a new temp file.
func (s *Service) fromReader(r io.Reader) source {
	return func(ctx context.Context, rs recvSpec) (*upload, error) {
		return s.receive(ctx, r, rs)
	}
}

// fromLink hard-links the local file at path into the temp dir and hashes
// it by reading; it copies instead when a link is impossible (another
// filesystem, a blob store that is not a directory).
func (s *Service) fromLink(path string) source {
	return func(ctx context.Context, rs recvSpec) (*upload, error) {
		if _, ok := s.blobs.b.(storage.FilePutter); ok {
			up, err := s.linkUpload(ctx, path, rs)
			if err == nil || !errors.Is(err, errNoLink) {
				return up, err
			}
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return s.receive(ctx, f, rs)
	}
}

var errNoLink = errors.New("cannot hard-link")

func (s *Service) linkUpload(ctx context.Context, path string, rs recvSpec) (*upload, error) {
	var rnd [8]byte
	rand.Read(rnd[:])
	name := filepath.Join(s.opts.TmpDir, uploadPrefix+s.owner.Tag()+"-link-"+hex.EncodeToString(rnd[:]))
	if err := os.Link(path, name); err != nil {
		return nil, fmt.Errorf("%w %s: %v", errNoLink, path, err)
	}
	up := &upload{path: name, sums: Sums{}}
	f, err := os.Open(name)
	if err != nil {
		up.discard()
		return nil, err
	}
	defer f.Close()
	if err := s.digest(ctx, up, f, nil, rs); err != nil {
		up.discard()
		return nil, err
	}
	return up, nil
}

func newHash(d Digest) hash.Hash {
	switch d {
	case MD5:
		return md5.New()
	case SHA1:
		return sha1.New()
	case SHA512:
		return sha512.New()
	default:
		return sha256.New()
	}
}

// headWriter keeps the first max bytes written to it and, when it has
// them, runs check on them; a failed check fails the write (and is kept in
// err).
type headWriter struct {
	buf   []byte
	max   int
	check func([]byte) error
	err   error
}

func (h *headWriter) Write(p []byte) (int, error) {
	if room := h.max - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
		if len(h.buf) == h.max && h.check != nil {
			if h.err = h.check(h.buf); h.err != nil {
				return 0, h.err
			}
		}
	}
	return len(p), nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
