package repo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/internal/panics"
)

// publisher publishes targets: it coalesces requests per target, and each
// publish, under the target's lock, applies retention, indexes the live
// packages, stores and checks the new files and switches the generation.
// It calls the view (collisions, manifests, the refresh after a switch)
// and the retention rules; nothing it calls calls it back.
type publisher struct {
	d    *deps
	view *viewer
	keep *retention
	pkgs pkgCache
	life *lifetime

	mu     sync.Mutex
	queues map[Target]*queue
	closed bool           // Close began: no new publish starts
	wg     sync.WaitGroup // running publishes and coalescing goroutines
	count  atomic.Int64
	// warm takes the targets published from keys, whose rows Run's warmer
	// then reads into the row cache (see warmRows).
	warm chan *TargetInfo
}

// queue coalesces publish requests for one target: requests that arrive
// while a publish runs are all answered by the next one.
type queue struct {
	running bool
	waiters []chan pubResult
	// events are the audit events of the waiting requests: the publish
	// that answers them writes them with its generation.
	events []*audit.Event
	// explicit is set when a waiting request must get a new generation
	// (Service.Publish, re-signing); upload-triggered requests alone
	// publish only if the target is still pending once the lock is held.
	explicit bool
	// last is the time of the last generation published here, for the
	// spacing of formats that need it (Spacer).
	last time.Time
}

type pubResult struct {
	gen *Generation
	err error
}

func newPublisher(d *deps, v *viewer, keep *retention, life *lifetime) *publisher {
	p := &publisher{d: d, view: v, keep: keep, life: life, queues: map[Target]*queue{}, warm: make(chan *TargetInfo, 64)}
	p.pkgs.limit = d.opts.PackageCacheBytes
	return p
}

// publish publishes t now and returns once the new generation is live (see
// Service.Publish).
func (p *publisher) publish(ctx context.Context, t Target) (*Generation, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if _, err := p.d.spec(t.Distro); err != nil {
		return nil, err
	}
	ch := p.request(t, 0, true, audit.Events(ctx)...)
	select {
	case r := <-ch:
		return r.gen, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// schedule asks for a publish of t after the configured delay.
func (p *publisher) schedule(t Target) { p.request(t, p.d.opts.PublishDelay, false) }

// publishPending publishes t unless it is no longer pending once its lock
// is held (the reconciler's publishes).
func (p *publisher) publishPending(ctx context.Context, t Target) (*Generation, error) {
	select {
	case r := <-p.request(t, 0, false, audit.Events(ctx)...):
		return r.gen, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *publisher) request(t Target, delay time.Duration, explicit bool, events ...*audit.Event) <-chan pubResult {
	ch := make(chan pubResult, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		ch <- pubResult{err: fmt.Errorf("publish %s: %w", t, errClosed)}
		return ch
	}
	q := p.queues[t]
	if q == nil {
		q = &queue{}
		p.queues[t] = q
	}
	q.waiters = append(q.waiters, ch)
	q.events = append(q.events, events...)
	q.explicit = q.explicit || explicit
	if !q.running {
		q.running = true
		p.wg.Add(1)
		go p.run(t, q, delay)
	}
	return ch
}

// run answers t's queued requests until none is left, after waiting delay
// (cut short when Close begins: the publish then runs at once).
func (p *publisher) run(t Target, q *queue, delay time.Duration) {
	defer p.wg.Done()
	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-p.life.closing:
			timer.Stop()
		}
	}
	for {
		p.spacingDelay(t, q)
		p.mu.Lock()
		ws, evs, explicit := q.waiters, q.events, q.explicit
		q.waiters, q.events, q.explicit = nil, nil, false
		if len(ws) == 0 {
			q.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		gen, err := p.round(t, evs, len(ws), !explicit)
		if err == nil && gen != nil {
			p.mu.Lock()
			q.last = gen.Created
			p.mu.Unlock()
		}
		for _, w := range ws {
			w <- pubResult{gen, err}
		}
	}
}

// spacingDelay waits, before a round of t, until a generation dated after
// the last one published here can be made without waiting, when t's format
// needs its generations spaced apart (Spacer; deb: one second). Requests
// that arrive meanwhile join the round instead of each waiting for a
// second of its own under the target's lock. It returns early when Close
// begins; formats without spacing never wait here.
func (p *publisher) spacingDelay(t Target, q *queue) {
	spec, err := p.d.spec(t.Distro)
	if err != nil {
		return
	}
	spacing := formatSpacing(spec.Format)
	p.mu.Lock()
	last := q.last
	p.mu.Unlock()
	if spacing == 0 || last.IsZero() {
		return
	}
	wait := last.Add(spacing).Sub(p.d.now())
	if wait <= 0 || wait > spacing {
		return
	}
	p.d.hook("publish.spacing-coalesce")
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-p.life.closing:
	}
}

// round runs one coalesced publish of t, which answers requests requests
// and records their audit events. It runs until done unless Close gives up
// waiting for it.
func (p *publisher) round(t Target, evs []*audit.Event, requests int, onlyPending bool) (*Generation, error) {
	ctx, cancel := p.life.context(context.Background())
	defer cancel()
	for _, e := range evs {
		ctx = audit.WithEvent(ctx, e)
	}
	start := p.d.now()
	gen, err := p.publishGuarded(ctx, t, onlyPending)
	if errors.Is(err, errPublishedMeanwhile) {
		return gen, nil
	}
	p.count.Add(1)
	if err != nil && ctx.Err() != nil {
		// Not the target's failure: nothing is recorded or counted.
		p.d.log.Warn("publish cancelled by shutdown; the previous generation stays live", "target", t.String(), "err", err)
		return nil, err
	}
	if obs := p.d.opts.Observer; obs != nil {
		obs.Published(t, p.d.formats.name(t.Distro), p.d.now().Sub(start), err)
	}
	if err != nil {
		attrs := []any{"target", t.String(), "err", err}
		if pe := (*panics.Error)(nil); errors.As(err, &pe) {
			attrs = append(attrs, "stack", string(pe.Stack))
		}
		p.d.log.Error("publish failed", attrs...)
		return nil, err
	}
	p.d.log.Info("published", "target", t.String(), "generation", gen.Seq, "packages", gen.Packages,
		"files", gen.Files, "requests", requests, "rows_read", gen.RowsRead)
	return gen, nil
}

// publishGuarded is publishIf on the publisher's own goroutine, where
// nothing else would stop a panic: a bug in a format's indexer (or in the
// core) fails this publish with an internal error, which its requests get
// and the log shows with its stack; the previous generation stays live and
// the server goes on (TestPublishPanicFailsOnlyThatPublish). The deferred
// unlocks of the publish run as the panic unwinds.
func (p *publisher) publishGuarded(ctx context.Context, t Target, onlyPending bool) (gen *Generation, err error) {
	defer panics.Recover(&err)
	gen, _, err = p.publishIf(ctx, t, nil, onlyPending)
	return gen, err
}

// publishNow runs one publish of t with prep on the caller's goroutine,
// not coalesced (prune, rollback), tracked like the coalesced ones: Close
// waits for it and cancels it at its deadline.
func (p *publisher) publishNow(ctx context.Context, t Target, prep prepFunc) (*Generation, []Package, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, nil, fmt.Errorf("publish %s: %w", t, errClosed)
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	ctx, cancel := p.life.context(ctx)
	defer cancel()
	return p.publishWith(ctx, t, prep)
}

// close refuses new publishes and waits for the running ones until ctx
// ends; then it cancels them (their targets keep their previous
// generation) and waits for them to return. The caller has closed the
// lifetime first, so coalescing delays are over.
func (p *publisher) close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	p.life.cancel()
	<-done
	return fmt.Errorf("publishes still running at the shutdown deadline were cancelled: %w", ctx.Err())
}

// keyed is called after a publish of ti from keys (its rows not in the row
// cache): it asks Run's warmer, if any, to read them.
func (p *publisher) keyed(ti *TargetInfo) {
	if p.pkgs.limit <= 0 {
		return // no row cache to warm
	}
	select {
	case p.warm <- ti:
	default: // no Run (a one-shot command), or the warmer is behind
	}
}

// warmRows reads into the row cache the rows of each target published from
// keys, until ctx ends (Run). A process that serves publishes a target
// again: the first publish after a start indexes from keys (fast), and
// without this the next one would read every row then. One-shot commands
// (pier import) do not run it, so they never read rows they will not use.
func (p *publisher) warmRows(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ti := <-p.warm:
			guarded(p.d.log, "read a target's packages into the row cache", func() {
				if _, _, _, err := p.pkgs.live(ctx, p.d.cat, ti, false); err != nil && ctx.Err() == nil {
					p.d.log.Warn("read a target's packages into the row cache", "target", ti.Target.String(), "err", err)
				}
			}, "target", ti.Target.String())
		}
	}
}
