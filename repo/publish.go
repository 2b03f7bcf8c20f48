package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// publisher coalesces publish requests for one target: requests that arrive
// while a publish runs are all answered by the next one.
type publisher struct {
	running bool
	waiters []chan pubResult
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
	ch := s.request(t, 0)
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

func (s *Service) request(t Target, delay time.Duration) <-chan pubResult {
	ch := make(chan pubResult, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pubs[t]
	if p == nil {
		p = &publisher{}
		s.pubs[t] = p
	}
	p.waiters = append(p.waiters, ch)
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
		ws := p.waiters
		p.waiters = nil
		if len(ws) == 0 {
			p.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		start := time.Now()
		gen, err := s.publishOnce(context.Background(), t)
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
// retention rule, indexes the live packages and switches. It also returns
// the packages the retention rule removed.
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
	note := ""
	if prep != nil {
		if note, err = prep(ctx, ti); err != nil {
			return nil, nil, err
		}
	}
	pkgs, err := s.livePackages(ctx, ti)
	if err != nil {
		return nil, nil, err
	}
	if pkgs, pruned, err = s.applyRetention(ctx, ti, spec.Format, pkgs); err != nil {
		return nil, nil, err
	}
	now, err := s.publishTime(ctx, ti)
	if err != nil {
		return nil, nil, err
	}
	files, err := spec.Format.Index(ctx, &IndexInput{Target: t, Packages: pkgs, Time: now, Signer: s.signer})
	if err != nil {
		return nil, nil, fmt.Errorf("index %s: %w", t, err)
	}
	if err := s.storeFiles(ctx, files); err != nil {
		return nil, nil, err
	}
	slices.SortFunc(files, func(a, b File) int {
		if a.Path < b.Path {
			return -1
		} else if a.Path > b.Path {
			return 1
		}
		return 0
	})
	for i := 1; i < len(files); i++ {
		if files[i].Path == files[i-1].Path && files[i].SHA256 != files[i-1].SHA256 {
			return nil, nil, fmt.Errorf("index %s: two different files at %s", t, files[i].Path)
		}
	}
	files = slices.CompactFunc(files, func(a, b File) bool { return a.Path == b.Path })
	manifest, err := json.Marshal(files)
	if err != nil {
		return nil, nil, fmt.Errorf("encode manifest: %w", err)
	}
	msum, err := s.blobs.PutBytes(ctx, manifest)
	if err != nil {
		return nil, nil, err
	}
	// The view needs this manifest next: keep the decoded form rather than
	// read, verify and decode it back from the blob store.
	s.view.mu.Lock()
	s.view.manifests[msum] = files
	s.view.mu.Unlock()
	s.hook("publish.before-switch")
	ids := make([]int64, len(pkgs))
	for i := range pkgs {
		ids[i] = pkgs[i].ID
	}
	gen = &Generation{Created: now, Revision: ti.Revision, Manifest: msum, Files: len(files), Packages: len(pkgs),
		Note: note, PackageIDs: ids}
	if err := s.cat.AddGeneration(ctx, ti.ID, gen); err != nil {
		return nil, nil, err
	}
	s.hook("publish.after-switch")
	if err := s.RefreshView(ctx); err != nil {
		s.log.Warn("refresh served view", "err", err)
	}
	return gen, pruned, nil
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

// storeFiles stores index data as blobs (several at once) and fills in
// their sha256 and size.
func (s *Service) storeFiles(ctx context.Context, files []File) error {
	for i := range files {
		f := &files[i]
		if f.Data == nil {
			if f.SHA256 == "" {
				return fmt.Errorf("index output %s has neither data nor blob", f.Path)
			}
			continue
		}
		h := sha256.Sum256(f.Data)
		f.SHA256, f.Size = hex.EncodeToString(h[:]), int64(len(f.Data))
	}
	// Identical data (a by-hash copy and its canonical file) is stored once.
	seen := map[string]bool{}
	for i := range files {
		f := &files[i]
		if f.Data == nil || seen[f.SHA256] {
			f.Data = nil
			continue
		}
		seen[f.SHA256] = true
		if err := s.blobs.putSum(ctx, f.SHA256, f.Data); err != nil {
			return err
		}
		f.Data = nil
	}
	return nil
}

// lock takes the cross-process publish lock of t (an flock on a file in
// LockDir), so that pier import and pier serve never publish one target at
// the same time.
func (s *Service) lock(t Target) (func(), error) {
	h := sha256.Sum256([]byte(t.String()))
	path := filepath.Join(s.opts.LockDir, "publish-"+hex.EncodeToString(h[:8])+".lock")
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
