package mirror

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/panics"
)

// Status is what GET /api/v1/mirrors shows of one mirror.
type Status struct {
	Name     string    `json:"name"`
	Running  bool      `json:"running"`
	LastSync time.Time `json:"last_sync,omitzero"`
	// LastOK is the end of the last sync that succeeded.
	LastOK    time.Time `json:"last_ok,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Failures  int       `json:"consecutive_failures"`
	Last      Report    `json:"last_report"`
}

// Manager syncs mirrors in the background: Trigger (after every publish)
// asks each mirror for a sync; requests that arrive while one runs are
// served by one more; a failed sync is retried with backoff. It never
// blocks the caller, so local serving never waits for a mirror.
type Manager struct {
	src Source
	log *slog.Logger

	mu      sync.Mutex
	mirrors []*managed
	parent  context.Context    // Run's context; nil before Run
	stop    context.CancelFunc // stops the current mirrors' loops
	wg      sync.WaitGroup
}

type managed struct {
	m       *Mirror
	wake    chan struct{}
	mu      sync.Mutex
	status  Status
	backoff time.Duration
}

// NewManager returns a manager for ms reading from src.
func NewManager(src Source, ms []*Mirror, log *slog.Logger) *Manager {
	mg := &Manager{src: src, log: log}
	mg.mirrors = managedList(ms)
	return mg
}

func managedList(ms []*Mirror) []*managed {
	var out []*managed
	for _, m := range ms {
		out = append(out, &managed{m: m, wake: make(chan struct{}, 1), status: Status{Name: m.Name}})
	}
	return out
}

// Trigger asks every mirror for a sync.
func (mg *Manager) Trigger() {
	mg.mu.Lock()
	defer mg.mu.Unlock()
	for _, m := range mg.mirrors {
		select {
		case m.wake <- struct{}{}:
		default: // one is pending already
		}
	}
}

// Run syncs until ctx ends; it triggers one sync at start.
func (mg *Manager) Run(ctx context.Context) {
	mg.mu.Lock()
	mg.parent = ctx
	mg.startLocked()
	mg.mu.Unlock()
	mg.Trigger()
	<-ctx.Done()
	mg.wg.Wait()
}

// startLocked starts a loop per mirror; mg.mu is held.
func (mg *Manager) startLocked() {
	ctx, cancel := context.WithCancel(mg.parent)
	mg.stop = cancel
	for _, m := range mg.mirrors {
		mg.wg.Add(1)
		go func() {
			defer mg.wg.Done()
			mg.loop(ctx, m)
		}()
	}
}

// Replace swaps the mirrors (a config reload): syncs in progress finish
// or are cancelled, then the new mirrors start and sync once.
func (mg *Manager) Replace(ms []*Mirror) {
	mg.mu.Lock()
	running := mg.parent != nil
	if running {
		mg.stop()
	}
	mg.mu.Unlock()
	if running {
		mg.wg.Wait()
	}
	mg.mu.Lock()
	mg.mirrors = managedList(ms)
	if running {
		mg.startLocked()
	}
	mg.mu.Unlock()
	mg.Trigger()
}

func (mg *Manager) loop(ctx context.Context, m *managed) {
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-retry:
		}
		retry = nil
		m.mu.Lock()
		m.status.Running = true
		m.mu.Unlock()
		// A bug in a sync fails that sync (logged, retried with backoff);
		// the loop and the server go on.
		rep, err := func() (rep Report, err error) { defer panics.Recover(&err); return m.m.Sync(ctx, mg.src) }()
		now := time.Now()
		m.mu.Lock()
		m.status.Running, m.status.LastSync, m.status.Last = false, now, rep
		if err != nil {
			m.status.LastError = err.Error()
			m.status.Failures++
			m.backoff = min(max(2*m.backoff, time.Second), 5*time.Minute)
			retry = time.After(m.backoff)
		} else {
			m.status.LastError, m.status.Failures, m.status.LastOK, m.backoff = "", 0, now, 0
		}
		m.mu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			mg.log.Error("mirror sync failed", "mirror", m.m.Name, "err", err, "retry_in", m.backoff)
		} else if rep.Uploaded > 0 || rep.Deleted > 0 {
			mg.log.Info("mirror synced", "mirror", m.m.Name, "uploaded", rep.Uploaded, "bytes", rep.Bytes,
				"deleted", rep.Deleted, "unchanged", rep.Skipped)
		}
	}
}

// Status returns every mirror's state.
func (mg *Manager) Status() []Status {
	mg.mu.Lock()
	ms := mg.mirrors
	mg.mu.Unlock()
	out := make([]Status, 0, len(ms))
	for _, m := range ms {
		m.mu.Lock()
		out = append(out, m.status)
		m.mu.Unlock()
	}
	return out
}
