package repo

import (
	"context"
	"io"
	"sync"

	"github.com/pierhq/pier/audit"
)

// Batch ingests many packages into one target for a bulk import: blobs are
// moved into place without a sync each, and Commit makes them durable with
// one sync and records them in one catalog transaction. Add may be called
// from several goroutines.
type Batch struct {
	in     *ingester
	t      Target
	mu     sync.Mutex
	staged []*staged
	// unlock releases the garbage-collection lock held from the first
	// staged blob until Close.
	unlock func()
	// target and existing are read once per batch (for a large batch a
	// query per package costs more than the package's own parse): the
	// target, and the keys of its live packages (no Meta) once the batch
	// has made smallBatch look-ups. Commit still applies the conflict rule
	// in its transaction.
	target   *TargetInfo
	existing map[[3]string]*Package
	// looked counts the look-ups: the first smallBatch go to the catalog
	// one by one (an indexed query each), so that adding one package to
	// a large target does not read every key of it.
	looked int
}

// smallBatch is how many look-ups a batch makes one by one before it reads
// every key of the target once.
const smallBatch = 32

// lookups returns the batch's target and a finder over the packages the
// target held when the batch started, reading both on first use.
func (b *Batch) lookups(ctx context.Context, format string) (*TargetInfo, finder, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cat := b.in.d.cat
	if b.target == nil {
		ti, err := cat.Target(ctx, b.t, format)
		if err != nil {
			return nil, nil, err
		}
		b.target = ti
	}
	b.looked++
	if b.existing == nil && b.looked > smallBatch {
		ps, err := cat.PackageKeys(ctx, b.target.ID)
		if err != nil {
			return nil, nil, err
		}
		b.existing = make(map[[3]string]*Package, len(ps))
		for i := range ps {
			p := &ps[i]
			b.existing[[3]string{p.Name, p.Version, p.Arch}] = p
		}
	}
	existing, ti := b.existing, b.target
	find := func(name, version, arch string) (*Package, error) {
		if existing == nil || existing[[3]string{name, version, arch}] != nil {
			// Taken (or not known yet): the whole row (with Meta) for the reply.
			return cat.FindPackage(ctx, ti.ID, name, version, arch)
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

// Add stages one package. It returns a result at once for a package that
// is already recorded; otherwise nil, and Commit reports its result.
func (b *Batch) Add(ctx context.Context, r io.Reader, o IngestOptions) (*IngestResult, error) {
	return b.add(ctx, b.in.fromReader(r), o)
}

// AddLinked is Add for a local file that the blob store takes over by a
// hard link instead of a copy, when the blob store is a directory on the
// same filesystem (otherwise it copies, as Add does). The file is read to
// hash and parse it but never written; it becomes the stored blob (and
// read-only), so it must never be modified in place afterwards.
func (b *Batch) AddLinked(ctx context.Context, path string, o IngestOptions) (*IngestResult, error) {
	return b.add(ctx, b.in.fromLink(path), o)
}

func (b *Batch) add(ctx context.Context, src source, o IngestOptions) (*IngestResult, error) {
	b.mu.Lock()
	if b.unlock == nil {
		unlock, err := b.in.d.locks.gc(ctx, false)
		if err != nil {
			b.mu.Unlock()
			return nil, err
		}
		b.unlock = unlock
	}
	b.mu.Unlock()
	st, done, err := b.in.stage(ctx, b.t, src, o, b.lookups, false)
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
	if err := b.in.d.blobs.Sync(ctx); err != nil {
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
	out, err := b.in.d.cat.AddPackages(ctx, sts[0].target.ID, ps)
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
		res[i] = b.in.recorded(b.t, sts[i], r.Package, r.Added)
	}
	return res, errs, nil
}
