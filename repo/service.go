package repo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Options configures a Service.
type Options struct {
	// TmpDir receives uploads while they stream in. It must be on the same
	// filesystem as a local blob store so that a finished upload is renamed,
	// not copied.
	TmpDir string
	// LockDir holds the per-target publish locks shared with other processes
	// using the same data directory (a FileLocker), unless Locker is set.
	LockDir string
	// Locker coordinates publishes, garbage collection, imports and the
	// background duties with other processes or nodes; nil means a
	// FileLocker on LockDir.
	Locker Locker
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
	// Run's reconciler; it doubles with each failure in a row, up to 5
	// minutes. 0 means 5 s.
	PublishRetry time.Duration
	// ViewPoll is how often Run looks for generations another process
	// (pier import) published; 0 means 1 s.
	ViewPoll time.Duration
	// ReconcilePoll is how often Run looks for targets that owe a publish;
	// 0 means 2 s.
	ReconcilePoll time.Duration
	// ResignPoll is how often Run checks whether roots are due for
	// re-signing; 0 means 5 s.
	ResignPoll time.Duration
	// GCInterval is how often Run collects garbage; 0 means never.
	GCInterval time.Duration
	// GCGrace is the grace of Run's collections (GCOptions.Grace).
	GCGrace time.Duration
	// Now is the clock of everything the service dates (upload and
	// promotion times, generation times and the Date of the indexes,
	// publish failures, alias claims, garbage-collection grace, the
	// reconciler's backoff, re-signing); nil means time.Now. Not covered:
	// the creation time of signatures (the Signer's own clock, and rpm's
	// Rewriter, which dates the package signatures it adds at ingest) and
	// the times the catalog writes itself (removals, pins, audit events).
	// Garbage collection compares it with the blob store's modification
	// times, so it must not run far from the real time.
	Now func() time.Time
	// Observer, when set, is told about every ingest and coalesced
	// publish (a publish cancelled by Close is not reported).
	Observer Observer
	// OnChange, when set, is called after the served view changed: a new
	// generation went live (published here or by another process).
	OnChange func()
	// Hook, when set, is called at named points: of an upload
	// ("upload.received", "upload.stored", "upload.recorded"), of a publish
	// ("publish.before-switch", "publish.after-switch"), and at the end of
	// each pass of Run's reconciler ("reconcile.pass") and re-signer
	// ("resign.pass"). Crash-safety tests use it to kill the process at
	// exact moments, other tests to wait for a pass. It must not block.
	Hook func(point string)
	// FollowCatalog makes a Lookup that misses, or finds a root, read the
	// catalog's current generations first: with several nodes, a file of
	// a generation another node just made is served at once, not after
	// the next view poll, and roots are never older than the request.
	FollowCatalog bool
	// Node names this process in the publish log (PublishLog), e.g.
	// host:port of pier serve.
	Node string
}

// withDefaults fills in the defaults of unset options.
func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.KeepGenerations < 1 {
		o.KeepGenerations = 3
	}
	if o.PublishRetry <= 0 {
		o.PublishRetry = 5 * time.Second
	}
	if o.PackageCacheBytes == 0 {
		o.PackageCacheBytes = 256 << 20
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&o.ViewPoll, time.Second}, {&o.ReconcilePoll, 2 * time.Second}, {&o.ResignPoll, 5 * time.Second}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	return o
}

// Service is Pier's core: it ingests packages, publishes generations and
// answers which blob a public path currently names. It is a façade over
// parts with one job each, which share one deps and depend on each other
// one way only: lifecycle, reconciler and re-signer → publisher → view and
// retention → deps; ingester, collector → deps (the collector also reads
// the view's manifests).
//
// Its lifetime: Run runs the background work (view polling, the
// reconciler, re-signing, garbage collection) until its context ends;
// Close stops everything, waiting for running publishes until its
// context ends and cancelling them then.
type Service struct {
	d    *deps
	life *lifetime
	view *viewer
	in   *ingester
	keep *retention
	pub  *publisher
	lc   *lifecycle
	gc   *collector

	runMu   sync.Mutex
	closed  bool
	running sync.WaitGroup // Run calls
}

// NewService returns a service. It removes upload leftovers of processes
// that are no longer running.
func NewService(cat Catalog, blobs *Blobs, signer Signer, formats []FormatSpec, opts Options, log *slog.Logger) (*Service, error) {
	opts = opts.withDefaults()
	locker := opts.Locker
	if locker == nil {
		fl, err := NewFileLocker(opts.LockDir)
		if err != nil {
			return nil, err
		}
		locker = fl
	}
	d := &deps{cat: cat, blobs: blobs, signer: signer, formats: &formatSet{}, locks: locks{locker},
		fails: &failures{}, log: log, opts: opts}
	if err := d.formats.set(formats); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.TmpDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.TmpDir, err)
	}
	in, err := newIngester(d)
	if err != nil {
		return nil, err
	}
	s := &Service{d: d, life: newLifetime(), view: newViewer(d), in: in, keep: &retention{d: d}}
	s.pub = newPublisher(d, s.view, s.keep, s.life)
	s.lc = &lifecycle{d: d, pub: s.pub, keep: s.keep}
	s.gc = &collector{d: d, view: s.view}
	return s, nil
}

// Run runs the service's background work until ctx ends or Close begins:
// it refreshes the served view every ViewPoll (publishes by pier import),
// publishes every target that owes a publish (at once, then every
// ReconcilePoll, retrying failures with a backoff), re-signs roots due to
// expire (every ResignPoll), reads into the row cache the rows of targets
// published from keys (repo.KeyIndexer) and collects garbage (every
// GCInterval, when set). It returns once all of them stopped. Publishes it started keep
// running until they finish or Close cancels them.
func (s *Service) Run(ctx context.Context) error {
	s.runMu.Lock()
	if s.closed {
		s.runMu.Unlock()
		return errClosed
	}
	s.running.Add(1)
	s.runMu.Unlock()
	defer s.running.Done()
	ctx, cancel := s.life.untilClosed(ctx)
	defer cancel()
	o := s.d.opts
	var wg sync.WaitGroup
	wg.Go(func() { s.view.watch(ctx, o.ViewPoll) })
	wg.Go(func() { newReconciler(s.d, s.pub, s.view).run(ctx, o.ReconcilePoll) })
	wg.Go(func() { newResigner(s.d, s.pub, s.view, o.ResignPoll).loop(ctx, o.ResignPoll) })
	wg.Go(func() { s.pub.warmRows(ctx) })
	if o.GCInterval > 0 {
		wg.Go(func() { s.gc.loop(ctx, o.GCInterval, GCOptions{Grace: o.GCGrace}) })
	}
	wg.Wait()
	return nil
}

// Close stops the service: Run returns, coalescing delays end (their
// publishes run at once), new publishes are refused, and running publishes
// may finish until ctx ends; then they are cancelled, their targets keep
// their previous generation and no failure is recorded. Close returns once
// nothing runs any more, with an error when it had to cancel publishes. It
// then releases the service's upload files. Calling it again is harmless.
func (s *Service) Close(ctx context.Context) error {
	s.runMu.Lock()
	s.closed = true
	s.runMu.Unlock()
	s.life.close()
	s.running.Wait()
	err := s.pub.close(ctx)
	s.in.close()
	return err
}

// SetFormats replaces the formats and their distro mapping (a config
// reload). Ingests and publishes already running finish with the formats
// they started with.
func (s *Service) SetFormats(formats []FormatSpec) error { return s.d.formats.set(formats) }

// Spec returns the format spec serving distro, or an error wrapping
// ErrInvalid.
func (s *Service) Spec(distro string) (*FormatSpec, error) { return s.d.spec(distro) }

// SetRetention replaces the retention rules (a config reload). The first
// rule whose pattern matches a target applies to it.
func (s *Service) SetRetention(rules []RetentionRule) error { return s.keep.set(rules) }

// RetentionFor returns the retention that applies to t.
func (s *Service) RetentionFor(t Target) Retention { return s.keep.of(t) }

// Ingest streams r to disk, hashing it in the same pass, parses it with the
// target's format, moves it into the blob store and records it in the
// catalog. It returns only once the package is durable. It does not publish.
func (s *Service) Ingest(ctx context.Context, t Target, r io.Reader, o IngestOptions) (*IngestResult, error) {
	return s.in.ingest(ctx, t, r, o)
}

// IngestSet receives a set of files that belong together (a Debian
// source package: its .dsc and the tarballs it lists; with o.Manifest, a
// .changes and every file it lists), checks it whole and records its
// packages in one catalog transaction, all or nothing: a missing file, a
// size or checksum that differs from what the set states, a file that no
// package of the set lists, a bad package or a conflict refuses the whole
// set and records nothing. Files other packages list are stored as their
// Extra blobs. It returns once the packages are durable. It does not
// publish.
func (s *Service) IngestSet(ctx context.Context, t Target, next NextFile, o SetOptions) (*SetResult, error) {
	return s.in.ingestSet(ctx, t, next, o)
}

// NewBatch starts a batch for t.
func (s *Service) NewBatch(t Target) *Batch { return &Batch{in: s.in, t: t} }

// Publish publishes t now and returns once the new generation is live. Calls
// that arrive while a publish of t runs are answered together by one more
// publish. The publish itself goes on when ctx ends (other calls may wait
// for it); only Close cancels it.
func (s *Service) Publish(ctx context.Context, t Target) (*Generation, error) {
	return s.pub.publish(ctx, t)
}

// SchedulePublish asks for a publish of t after the configured delay,
// coalesced with other requests, and does not wait for it.
func (s *Service) SchedulePublish(t Target) { s.pub.schedule(t) }

// Publishes returns how many coalesced publishes this service has run since
// it started (coalesced requests count once).
func (s *Service) Publishes() int64 { return s.pub.count.Load() }

// VerifyTarget runs the read-back check a publish runs before a generation
// goes live on t's current generation: every root verifies with the
// current keys, every index a root names is there with its size and
// hashes, every package an index names is in the blob store with its size;
// with deep, every package blob is also read and hashed. It returns the
// generation checked; an error wraps ErrVerify and names what failed.
func (s *Service) VerifyTarget(ctx context.Context, t Target, deep bool) (*Generation, error) {
	return s.pub.verifyTarget(ctx, t, deep)
}

// ResignExpiring publishes every target whose current roots are due for
// re-signing now (the check Run makes every ResignPoll) and returns those
// it republished. The error reports the first failure; the other targets
// are still handled.
func (s *Service) ResignExpiring(ctx context.Context) ([]Target, error) {
	return newResigner(s.d, s.pub, s.view, 0).pass(ctx)
}

// Lookup returns the file served at path (no leading slash).
// With Options.FollowCatalog, a path the view lacks (or a root) is looked
// up after reading the catalog's current generations.
func (s *Service) Lookup(path string) (Served, bool) { return s.view.lookupFresh(path) }

// PreviousRoot returns the root file at path (a Release, a repomd.xml,
// a signature of one) of the generation its target published before the
// current one, while the served view retains it: what a client that read
// the other root of that pair just before a publish needs.
func (s *Service) PreviousRoot(path string) (Served, bool) { return s.view.previousRoot(path) }

// Owners returns the targets under whose published prefixes path lies,
// whether or not the file exists: the targets a request for it is about.
func (s *Service) Owners(path string) []Target { return s.view.ownersOf(path) }

// ServedPaths yields every served path that starts with prefix.
func (s *Service) ServedPaths(prefix string) func(yield func(string) bool) {
	return s.view.servedPaths(prefix)
}

// RefreshView rebuilds the served view if any target's current generation
// changed, including changes made by another process on the same data
// directory. It is cheap when nothing changed.
func (s *Service) RefreshView(ctx context.Context) error { return s.view.refresh(ctx) }

// Manifest returns the files of a generation, from the same cache the
// served view uses. The slice is shared: callers must not modify it.
func (s *Service) Manifest(ctx context.Context, g *Generation) ([]File, error) {
	return s.view.manifest(ctx, g.Manifest)
}

// Blobs returns the blob store.
func (s *Service) Blobs() *Blobs { return s.d.blobs }

// Targets lists the catalog's targets.
func (s *Service) Targets(ctx context.Context) ([]TargetInfo, error) { return s.d.targets(ctx) }

// Heads lists every target with its current generation (no package counts).
func (s *Service) Heads(ctx context.Context) ([]TargetInfo, error) { return s.d.heads(ctx) }

// FindTarget returns t as the catalog knows it, or an error wrapping
// ErrNotFound if nothing was ever uploaded to it.
func (s *Service) FindTarget(ctx context.Context, t Target) (*TargetInfo, error) {
	return s.d.findTarget(ctx, t)
}

// Packages lists the packages of t.
func (s *Service) Packages(ctx context.Context, t Target) ([]Package, error) {
	ti, err := s.d.findTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	return s.d.cat.Packages(ctx, ti.ID)
}

// PackagePage lists one page of t's packages (PackageReader.PackagePage)
// and returns the After of the following page, 0 when this page is the
// last: it asks the catalog for one row more than q.Limit to know.
func (s *Service) PackagePage(ctx context.Context, t Target, q PackageQuery) ([]Package, int64, error) {
	ti, err := s.d.findTarget(ctx, t)
	if err != nil {
		return nil, 0, err
	}
	if q.Limit < 1 {
		return nil, 0, fmt.Errorf("list a page of packages: limit %d: %w", q.Limit, ErrInvalid)
	}
	q.Limit++
	ps, err := s.d.cat.PackagePage(ctx, ti.ID, q)
	if err != nil {
		return nil, 0, err
	}
	if len(ps) < q.Limit {
		return ps, 0, nil
	}
	ps = ps[:q.Limit-1]
	return ps, ps[len(ps)-1].ID, nil
}

// Retained returns the generations of target that stay servable, newest
// first: the current one and up to KeepGenerations-1 before it.
func (s *Service) Retained(ctx context.Context, t *TargetInfo) ([]Generation, error) {
	return s.d.cat.Generations(ctx, t.ID, s.d.opts.KeepGenerations)
}

// Path returns the path of t's own tree, where its root files are
// published ("deb/5.8/debian/dists/bookworm/", "rpm/5.8/el/9/"), or "" when
// its format does not say.
func (s *Service) Path(t Target) string { return s.d.path(t) }

// Failing returns the targets whose publishes failed at least times in a
// row, or have been failing for at least d: what /readyz reports.
func (s *Service) Failing(ctx context.Context, times int, d time.Duration) ([]TargetInfo, error) {
	return s.d.failing(ctx, times, d)
}

// HoldImport marks t as being imported into by this process until the
// returned function is called (or the process ends): Run's reconciler
// (in pier serve) then leaves t's publish to the import. It waits while
// the lock is probed, until ctx ends.
func (s *Service) HoldImport(ctx context.Context, t Target) (func(), error) {
	return s.d.locks.holdImport(ctx, t)
}

// Delete removes a package from t. It does not publish; the package stays
// in the generations that have it until they are replaced.
func (s *Service) Delete(ctx context.Context, t Target, name, version, arch string) error {
	return s.lc.delete(ctx, t, name, version, arch)
}

// Prune applies t's retention now. With dryRun it only returns what would
// go (reading no package metadata); otherwise, when something goes, the
// removal and a new generation happen in one publish.
func (s *Service) Prune(ctx context.Context, t Target, dryRun bool) ([]Package, *Generation, error) {
	return s.lc.prune(ctx, t, dryRun)
}

// Pins lists t's pinned versions.
func (s *Service) Pins(ctx context.Context, t Target) ([]Pin, error) { return s.lc.pins(ctx, t) }

// SetPin pins (on) or unpins name=version in t: a pinned version is never
// pruned. The version need not be uploaded yet.
func (s *Service) SetPin(ctx context.Context, t Target, name, version string, on bool) error {
	return s.lc.setPin(ctx, t, name, version, on)
}

// Promote copies packages from src to dst (targets of the same format)
// without re-upload: the copies name the same blobs. A spec without a
// version takes the highest version of each architecture. Nothing is copied
// unless every spec matches and none conflicts with dst. It does not
// publish.
func (s *Service) Promote(ctx context.Context, src, dst Target, specs []PackageSpec) ([]PromoteResult, error) {
	return s.lc.promote(ctx, src, dst, specs)
}

// Generations lists t's recorded generations, newest first: the retained
// ones and any older ones garbage collection has not forgotten yet.
func (s *Service) Generations(ctx context.Context, t Target) ([]Generation, error) {
	return s.lc.generations(ctx, t)
}

// Rollback republishes the package set of t's generation seq as a new
// generation (roots signed afresh with a new Date), in one step under the
// target's publish lock.
func (s *Service) Rollback(ctx context.Context, t Target, seq int64) (*Generation, error) {
	return s.lc.rollback(ctx, t, seq)
}

// CollectGarbage forgets every target's generations beyond the retained
// ones (Options.KeepGenerations), then the removed packages no retained
// generation holds, then deletes every blob that no package row and no
// retained generation references and that is older than o.Grace by the
// service's clock, from whatever backend holds the blobs (local disk or
// S3). It waits for the exclusive gc lock until ctx ends.
func (s *Service) CollectGarbage(ctx context.Context, o GCOptions) (GCStats, error) {
	return s.gc.collect(ctx, o)
}
