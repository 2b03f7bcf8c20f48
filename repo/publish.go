package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/pierhq/pier/audit"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// publisher coalesces publish requests for one target: requests that arrive
// while a publish runs are all answered by the next one.
type publisher struct {
	running bool
	waiters []chan pubResult
	// events are the audit events of the waiting requests: the publish
	// that answers them writes them with its generation.
	events []*audit.Event
}

type pubResult struct {
	gen *Generation
	err error
}

// Publish publishes t now and returns once the new generation is live. Calls
// that arrive while a publish of t runs are answered together by one more
// publish.
func (s *Service) Publish(ctx context.Context, t Target) (*Generation, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if _, err := s.Spec(t.Distro); err != nil {
		return nil, err
	}
	ch := s.request(t, 0, audit.Events(ctx)...)
	select {
	case r := <-ch:
		return r.gen, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// SchedulePublish asks for a publish of t after the configured delay,
// coalesced with other requests, and does not wait for it.
func (s *Service) SchedulePublish(t Target) {
	s.request(t, s.opts.PublishDelay)
}

func (s *Service) request(t Target, delay time.Duration, events ...*audit.Event) <-chan pubResult {
	ch := make(chan pubResult, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pubs[t]
	if p == nil {
		p = &publisher{}
		s.pubs[t] = p
	}
	p.waiters = append(p.waiters, ch)
	p.events = append(p.events, events...)
	if !p.running {
		p.running = true
		s.wg.Add(1)
		go s.runPublisher(t, p, delay)
	}
	return ch
}

func (s *Service) runPublisher(t Target, p *publisher, delay time.Duration) {
	defer s.wg.Done()
	if delay > 0 {
		time.Sleep(delay)
	}
	for {
		s.mu.Lock()
		ws, evs := p.waiters, p.events
		p.waiters, p.events = nil, nil
		if len(ws) == 0 {
			p.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		start := time.Now()
		ctx := context.Background()
		for _, e := range evs {
			ctx = audit.WithEvent(ctx, e)
		}
		gen, err := s.publishOnce(ctx, t)
		s.publishes.Add(1)
		if s.opts.Observer != nil {
			format := ""
			if spec, serr := s.Spec(t.Distro); serr == nil {
				format = spec.Format.Name()
			}
			s.opts.Observer.Published(t, format, time.Since(start), err)
		}
		if err != nil {
			s.log.Error("publish failed", "target", t.String(), "err", err)
		} else {
			s.log.Info("published", "target", t.String(), "generation", gen.Seq, "packages", gen.Packages,
				"files", gen.Files, "requests", len(ws))
		}
		for _, w := range ws {
			w <- pubResult{gen, err}
		}
	}
}

// publishOnce builds and switches to a new generation of t.
func (s *Service) publishOnce(ctx context.Context, t Target) (*Generation, error) {
	gen, _, err := s.publishWith(ctx, t, nil)
	return gen, err
}

// prepFunc changes a target's package set under its publish lock, right
// before the publish reads it (the restore step of a rollback), and returns
// the new generation's note.
type prepFunc func(ctx context.Context, ti *TargetInfo) (note string, err error)

// publishWith builds and switches to a new generation of t: under the
// target's publish lock it runs prep (if any), applies the target's
// retention rule, indexes the live packages, reads the result back
// (verify) and switches. It also returns the packages the retention rule
// removed. A failure leaves the previous generation live and is recorded
// on the target (TargetInfo.PublishError) until a publish succeeds.
func (s *Service) publishWith(ctx context.Context, t Target, prep prepFunc) (gen *Generation, pruned []Package, err error) {
	spec, err := s.Spec(t.Distro)
	if err != nil {
		return nil, nil, err
	}
	unlock, err := s.lock(t)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	// Hold off garbage collection for the whole publish: the rows a
	// rollback restores, the rows being read and the index blobs stored
	// before the generation naming them is recorded must all survive it.
	gcUnlock, err := s.gcLock(false)
	if err != nil {
		return nil, nil, err
	}
	defer gcUnlock()
	ti, err := s.cat.Target(ctx, t, spec.Format.Name())
	if err != nil {
		return nil, nil, err
	}
	// Only failures of the publish itself count against the target, not a
	// refused prep (a rollback to a generation that does not exist).
	building := false
	defer func() {
		if err == nil {
			s.succeeded(ti.ID)
			return
		}
		if building && ctx.Err() == nil {
			s.failed(ti.ID, err.Error())
			if rerr := s.cat.PublishFailed(context.WithoutCancel(ctx), ti.ID, err.Error(), s.opts.Now()); rerr != nil {
				s.log.Warn("record publish failure", "target", t.String(), "err", rerr)
			}
		}
	}()
	note := ""
	if prep != nil {
		if note, err = prep(ctx, ti); err != nil {
			return nil, nil, err
		}
		// prep changed the package set: read the revision it made.
		if ti, err = s.cat.Target(ctx, t, spec.Format.Name()); err != nil {
			return nil, nil, err
		}
	}
	building = true
	// The revision is read before the packages, so the generation never
	// claims a package set newer than the one it publishes (a change that
	// lands in between only makes the target look pending once more).
	revision := ti.Revision
	pkgs, err := s.livePackages(ctx, ti)
	if err != nil {
		return nil, nil, err
	}
	if pkgs, pruned, err = s.applyRetention(ctx, ti, spec.Format, pkgs); err != nil {
		return nil, nil, err
	}
	if len(pruned) > 0 {
		revision++ // the removal applyRetention made
	}
	gen, err = s.build(ctx, spec.Format, ti, pkgs)
	if err != nil {
		return nil, nil, err
	}
	gen.Revision, gen.Note = revision, note
	s.hook("publish.before-switch")
	if err := s.cat.AddGeneration(ctx, ti.ID, gen); err != nil {
		return nil, nil, err
	}
	s.hook("publish.after-switch")
	if err := s.RefreshView(ctx); err != nil {
		s.log.Warn("refresh served view", "err", err)
	}
	return gen, pruned, nil
}

// build indexes pkgs for ti, stores every new file, adds the alias copies,
// checks the result as a client would and stores the manifest. It returns
// the generation to record (without Revision and Note).
func (s *Service) build(ctx context.Context, f Format, ti *TargetInfo, pkgs []Package) (*Generation, error) {
	t := ti.Target
	now, err := s.publishTime(ctx, ti)
	if err != nil {
		return nil, err
	}
	files, err := f.Index(ctx, &IndexInput{Target: t, Packages: pkgs, Time: now, Signer: s.signer})
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", t, err)
	}
	data, err := s.storeFiles(ctx, files)
	if err != nil {
		return nil, err
	}
	if files, err = sortFiles(files); err != nil {
		return nil, fmt.Errorf("index %s: %w", t, err)
	}
	if files, err = s.withAlias(ctx, f, ti, files, now); err != nil {
		return nil, fmt.Errorf("alias of %s: %w", t, err)
	}
	if err := s.checkCollisions(t, files); err != nil {
		return nil, err
	}
	if err := s.verify(ctx, f, ti, files, data); err != nil {
		return nil, err
	}
	manifest, err := json.Marshal(files)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	msum, err := s.blobs.PutBytes(ctx, manifest)
	if err != nil {
		return nil, err
	}
	// The view needs this manifest next: keep the decoded form rather than
	// read, verify and decode it back from the blob store.
	s.view.mu.Lock()
	s.view.manifests[msum] = files
	s.view.mu.Unlock()
	ids := make([]int64, len(pkgs))
	for i := range pkgs {
		ids[i] = pkgs[i].ID
	}
	return &Generation{Created: now, Manifest: msum, Files: len(files), Packages: len(pkgs), PackageIDs: ids}, nil
}

// publishTime returns the time of a new generation: now, truncated to the
// second (Release's Date has second resolution), and strictly later than the
// current generation. apt silently ignores a Release whose Date is not newer
// than the one it has, and rejects one dated in the future, so when publishes
// come faster than one a second the publish waits instead of lying.
func (s *Service) publishTime(ctx context.Context, ti *TargetInfo) (time.Time, error) {
	now := s.opts.Now().UTC().Truncate(time.Second)
	if ti.Current == nil || now.After(ti.Current.Created) {
		return now, nil
	}
	next := ti.Current.Created.Add(time.Second)
	wait := next.Sub(s.opts.Now()) + 10*time.Millisecond
	if wait > 0 && wait < 2*time.Second {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
	return next, nil
}

// storeFiles stores index data as blobs and fills in their sha256 and
// size. It returns the stored bytes by sha256, for the read-back check.
func (s *Service) storeFiles(ctx context.Context, files []File) (map[string][]byte, error) {
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
		if _, dup := seen[f.SHA256]; f.Data == nil || dup {
			f.Data = nil
			continue
		}
		seen[f.SHA256] = f.Data
		if err := s.blobs.putSum(ctx, f.SHA256, f.Data); err != nil {
			return nil, err
		}
		f.Data = nil
	}
	return seen, nil
}

// lock takes the cross-process publish lock of t (an flock on a file in
// LockDir), so that pier import and pier serve never publish one target at
// the same time.
func (s *Service) lock(t Target) (func(), error) {
	path := filepath.Join(s.opts.LockDir, "publish-"+lockName(t)+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open publish lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("take publish lock: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// lockName names t's lock files: a hash, since target names may be long.
func lockName(t Target) string {
	h := sha256.Sum256([]byte(t.String()))
	return hex.EncodeToString(h[:8])
}
