package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pierhq/pier/internal/panics"
)

// prepFunc changes a target's package set under its publish lock, right
// before the publish reads it (the restore step of a rollback), and returns
// the new generation's note.
type prepFunc func(ctx context.Context, ti *TargetInfo) (note string, err error)

// publishWith builds and switches to a new generation of t: under the
// target's publish lock it runs prep (if any), applies the target's
// retention rule, indexes the live packages, reads the result back
// (verify) and switches. It also returns the packages the retention rule
// removed. A failure leaves the previous generation live and is recorded
// on the target (TargetInfo.PublishError) until a publish succeeds; a
// refused prep and a cancelled publish are not failures of the target.
func (p *publisher) publishWith(ctx context.Context, t Target, prep prepFunc) (*Generation, []Package, error) {
	return p.publishIf(ctx, t, prep, false)
}

// errPublishedMeanwhile is what publishIf returns (with the current
// generation) when it had nothing to publish.
var errPublishedMeanwhile = errors.New("published meanwhile")

// publishIf is publishWith; with onlyPending, a target whose current
// generation already publishes its package set (another process or node
// published it while this one waited for the lock) is left as it is and
// its current generation returned with errPublishedMeanwhile: so uploads
// spread over several nodes still coalesce into few publishes.
func (p *publisher) publishIf(ctx context.Context, t Target, prep prepFunc, onlyPending bool) (*Generation, []Package, error) {
	spec, err := p.d.spec(t.Distro)
	if err != nil {
		return nil, nil, err
	}
	unlock, err := p.d.locks.publish(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	// Hold off garbage collection for the whole publish: the rows a
	// rollback restores, the rows being read and the index blobs stored
	// before the generation naming them is recorded must all survive it.
	gcUnlock, err := p.d.locks.gc(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	defer gcUnlock()
	ti, note, err := p.prepare(ctx, t, spec, prep)
	if err != nil {
		return nil, nil, err
	}
	if onlyPending && prep == nil && ti.Current != nil && !ti.Pending() {
		p.d.log.Debug("publish not needed: published meanwhile", "target", t.String(), "generation", ti.Current.Seq)
		if err := p.view.refreshBuilt(context.WithoutCancel(ctx)); err != nil {
			p.d.log.Warn("refresh served view", "err", err)
		}
		return ti.Current, nil, errPublishedMeanwhile
	}
	started := p.d.now()
	gen, pruned, err := p.generate(ctx, spec.Format, ti, note)
	p.logPublish(ctx, t, started, gen, err) // the lock is still held
	if err != nil {
		p.failed(ctx, ti, err)
		return nil, nil, err
	}
	p.d.fails.succeeded(ti.ID)
	// The generation is live: the view shows it even if ctx ended meanwhile.
	if err := p.view.refreshBuilt(context.WithoutCancel(ctx)); err != nil {
		p.d.log.Warn("refresh served view", "err", err)
	}
	return gen, pruned, nil
}

// prepare reads t as the catalog knows it, running prep first when there
// is one (and reading t again for the revision prep made).
func (p *publisher) prepare(ctx context.Context, t Target, spec *FormatSpec, prep prepFunc) (*TargetInfo, string, error) {
	ti, err := p.d.cat.Target(ctx, t, spec.Format.Name())
	if err != nil || prep == nil {
		return ti, "", err
	}
	note, err := prep(ctx, ti)
	if err != nil {
		return nil, "", err
	}
	ti, err = p.d.cat.Target(ctx, t, spec.Format.Name())
	return ti, note, err
}

// generate applies ti's retention to its live packages, builds the new
// generation and records it as current.
func (p *publisher) generate(ctx context.Context, f Format, ti *TargetInfo, note string) (*Generation, []Package, error) {
	// The revision is read before the packages, so the generation never
	// claims a package set newer than the one it publishes (a change that
	// lands in between only makes the target look pending once more).
	revision := ti.Revision
	var prev PreviousFiles
	if ti.Current != nil {
		prev = &previousFiles{d: p.d, view: p.view, manifest: ti.Current.Manifest}
	}
	// A format that reads ahead from the current generation does so
	// while the packages are read (a new process: the rows and the
	// previous repodata are each ~0.1–0.2 s at 10,000 packages).
	prepared := func() {}
	if pr, ok := f.(Preparer); ok && prev != nil {
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			// A bug while reading ahead only means less was read ahead:
			// logged, and the Index that follows does without it.
			guarded(p.d.log, "read ahead for a publish failed", func() { pr.Prepare(pctx, ti.Target, prev) },
				"target", ti.Target.String())
		}()
		prepared = func() { <-done }
		defer func() { cancel(); <-done }()
	}
	ki, keysOK := f.(KeyIndexer)
	pkgs, read, keys, err := p.pkgs.live(ctx, p.d.cat, ti, keysOK && ki.IndexesKeys())
	if err != nil {
		return nil, nil, err
	}
	pkgs, pruned, err := p.keep.apply(ctx, ti, f, pkgs)
	if err != nil {
		return nil, nil, err
	}
	if len(pruned) > 0 {
		revision++ // the removal apply made
	}
	prepared()
	gen, err := p.build(ctx, f, ti, pkgs, prev)
	if err != nil {
		return nil, nil, err
	}
	gen.Revision, gen.Note = revision, note
	gen.RowsRead += read
	p.d.hook("publish.before-switch")
	if err := p.d.cat.AddGeneration(ctx, ti.ID, gen); err != nil {
		return nil, nil, err
	}
	p.d.hook("publish.after-switch")
	if keys {
		p.keyed(ti)
	}
	return gen, pruned, nil
}

// failed records a failed publish of ti in memory and in the catalog,
// unless ctx ended: a publish cancelled by a shutdown is not the target's
// failure.
func (p *publisher) failed(ctx context.Context, ti *TargetInfo, err error) {
	if ctx.Err() != nil {
		return
	}
	now := p.d.now()
	p.d.fails.failed(ti.ID, err.Error(), now)
	if rerr := p.d.cat.PublishFailed(context.WithoutCancel(ctx), ti.ID, err.Error(), now); rerr != nil {
		p.d.log.Warn("record publish failure", "target", ti.Target.String(), "err", rerr)
	}
}

// build indexes pkgs for ti, stores every new file, adds the alias copies,
// checks the result as a client would and stores the manifest. It returns
// the generation to record (without Revision and Note).
func (p *publisher) build(ctx context.Context, f Format, ti *TargetInfo, pkgs []Package, prev PreviousFiles) (*Generation, error) {
	t := ti.Target
	now, err := p.publishTime(ctx, f, ti)
	if err != nil {
		return nil, err
	}
	var rows atomic.Int64 // read through in.Rows
	in := &IndexInput{Target: t, Packages: pkgs, Time: now, Signer: p.d.signer, Previous: prev,
		Rows: func(ctx context.Context, ids []int64) ([]Package, error) {
			rows.Add(int64(len(ids)))
			return p.d.cat.PackagesByID(ctx, ti.ID, ids)
		}}
	if prev != nil {
		seq := ti.Current.Seq
		in.PreviousIDs = func(ctx context.Context) ([]int64, error) {
			g, err := p.d.cat.Generation(ctx, ti.ID, seq)
			if err != nil {
				return nil, err
			}
			return g.PackageIDs, nil
		}
	}
	files, err := f.Index(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", t, err)
	}
	data, err := p.storeFiles(ctx, files)
	if err != nil {
		return nil, err
	}
	if files, err = sortFiles(files); err != nil {
		return nil, fmt.Errorf("index %s: %w", t, err)
	}
	if files, err = p.withAlias(ctx, f, ti, files, now); err != nil {
		return nil, fmt.Errorf("alias of %s: %w", t, err)
	}
	if err := p.view.collision(t, files); err != nil {
		return nil, err
	}
	manifest, err := encodeManifest(files)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	// The manifest is stored while the generation is read back (a failed
	// check leaves an unreferenced blob, collected like any other).
	var msum string
	var merr error
	stored := make(chan struct{})
	go func() {
		defer close(stored)
		defer panics.Recover(&merr)
		msum, merr = p.d.blobs.PutBytes(ctx, manifest)
	}()
	err = p.verify(ctx, f, ti, files, data)
	<-stored
	if err != nil {
		return nil, err
	}
	if merr != nil {
		return nil, merr
	}
	p.view.remember(msum, files)
	ids := make([]int64, len(pkgs))
	for i := range pkgs {
		ids[i] = pkgs[i].ID
	}
	return &Generation{Created: now, Manifest: msum, Files: len(files), Packages: len(pkgs), PackageIDs: ids, RowsRead: int(rows.Load())}, nil
}

// publishTime returns the time of a new generation: now, truncated to the
// second (generation times and Release's Date have second resolution), and
// never earlier than the current generation. A format whose clients need
// generations spaced apart (Spacer: apt silently ignores a Release whose Date
// is not newer than the one it has, and rejects one dated in the future)
// gets a time strictly later than the current generation by its spacing:
// when publishes come faster than that, the publish waits instead of
// post-dating ("publish.spacing-wait" hook). The coalescer avoids most of
// these waits (see publisher.spacingDelay); what is left is a publish right
// after one made by another process (pier import). Other formats never
// wait: rpm-md's revision and APKINDEX's mtime carry no such rule (yum only
// refused a repomd.xml strictly older than the one it had, never an equal one).
func (p *publisher) publishTime(ctx context.Context, f Format, ti *TargetInfo) (time.Time, error) {
	now := p.d.now().UTC().Truncate(time.Second)
	if ti.Current == nil || now.After(ti.Current.Created) {
		return now, nil
	}
	spacing := formatSpacing(f)
	if spacing == 0 {
		return ti.Current.Created, nil
	}
	next := ti.Current.Created.Add(spacing)
	wait := next.Sub(p.d.now()) + 10*time.Millisecond
	if wait > 0 && wait < 2*spacing {
		p.d.hook("publish.spacing-wait")
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
	return next, nil
}

// formatSpacing returns the spacing f's clients need between generations,
// 0 when they need none.
func formatSpacing(f Format) time.Duration {
	if s, ok := f.(Spacer); ok {
		return max(s.Spacing(), 0)
	}
	return 0
}

// previousFiles reads the files of a target's current generation through
// its manifest (IndexInput.Previous).
type previousFiles struct {
	d        *deps
	view     *viewer
	manifest string

	once  sync.Once
	paths map[string]File
	err   error
}

var _ PreviousSums = (*previousFiles)(nil)

// SHA256 implements PreviousSums.
func (pf *previousFiles) SHA256(ctx context.Context, path string) (string, error) {
	f, err := pf.file(ctx, path)
	return f.SHA256, err
}

// file returns the manifest entry of path.
func (pf *previousFiles) file(ctx context.Context, path string) (File, error) {
	pf.once.Do(func() {
		files, err := pf.view.manifest(ctx, pf.manifest)
		if err != nil {
			pf.err = err
			return
		}
		pf.paths = make(map[string]File, len(files))
		for _, f := range files {
			pf.paths[f.Path] = f
		}
	})
	if pf.err != nil {
		return File{}, pf.err
	}
	f, ok := pf.paths[path]
	if !ok {
		return File{}, fmt.Errorf("previous generation: %s: %w", path, fs.ErrNotExist)
	}
	return f, nil
}

// ReadFile implements PreviousFiles.
func (pf *previousFiles) ReadFile(ctx context.Context, path string) ([]byte, error) {
	f, err := pf.file(ctx, path)
	if err != nil {
		return nil, err
	}
	obj, err := pf.d.blobs.Open(ctx, f.SHA256)
	if err != nil {
		return nil, fmt.Errorf("previous generation: %s: %w", path, err)
	}
	defer obj.Close()
	data, err := readSized(io.LimitReader(obj, f.Size+1), f.Size) // one byte past the size, to see a longer blob
	if err != nil {
		return nil, fmt.Errorf("previous generation: read %s: %w", path, err)
	}
	if int64(len(data)) != f.Size {
		return nil, fmt.Errorf("previous generation: %s has %d bytes, its manifest says %d", path, len(data), f.Size)
	}
	return data, nil
}

// storeFiles stores index data as blobs and fills in their sha256 and
// size. It returns the stored bytes by sha256, for the read-back check.
func (p *publisher) storeFiles(ctx context.Context, files []File) (map[string][]byte, error) {
	for i := range files {
		f := &files[i]
		if f.Data == nil {
			if f.SHA256 == "" {
				return nil, fmt.Errorf("index output %s has neither data nor blob", f.Path)
			}
			continue
		}
		h := sha256.Sum256(f.Data)
		f.SHA256, f.Size = hex.EncodeToString(h[:]), int64(len(f.Data))
	}
	// Identical data (a by-hash copy and its canonical file) is stored once.
	seen := map[string][]byte{}
	for i := range files {
		f := &files[i]
		if _, dup := seen[f.SHA256]; f.Data != nil && !dup {
			seen[f.SHA256] = f.Data
		}
		f.Data = nil
	}
	// A few at once: each local put waits for two fsyncs, each S3 put for
	// a round trip.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(storeParallel)
	for sum, data := range seen {
		g.Go(func() (err error) {
			defer panics.Recover(&err)
			return p.d.blobs.putSum(gctx, sum, data)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return seen, nil
}

// storeParallel is how many index files a publish stores at once.
const storeParallel = 4
