package repo

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// deps is what every part of the service shares: the catalog, the blob
// store, the signer, the formats, the locks, the clock, the logger and the
// options, plus the publish failures this process saw (written by the
// publisher, shown by every listing of targets). It is the bottom layer of
// the service: ingest, view, retention, publish, lifecycle, gc and re-sign
// take it, and it calls none of them.
type deps struct {
	cat     Catalog
	blobs   *Blobs
	signer  Signer
	formats *formatSet
	locks   locks
	fails   *failures
	log     *slog.Logger
	opts    Options // defaults filled in
}

// now is the service's clock (Options.Now).
func (d *deps) now() time.Time { return d.opts.Now() }

// hook calls Options.Hook at a named point.
func (d *deps) hook(point string) {
	if d.opts.Hook != nil {
		d.opts.Hook(point)
	}
}

// spec returns the format spec serving distro (see formatSet.spec).
func (d *deps) spec(distro string) (*FormatSpec, error) { return d.formats.spec(distro) }

// heads lists every target with its current generation (no package
// counts), with the failures this process saw.
func (d *deps) heads(ctx context.Context) ([]TargetInfo, error) {
	ts, err := d.cat.Heads(ctx)
	d.fails.overlay(ts)
	return ts, err
}

// targets lists every target with its package counts and the failures
// this process saw.
func (d *deps) targets(ctx context.Context) ([]TargetInfo, error) {
	ts, err := d.cat.Targets(ctx)
	d.fails.overlay(ts)
	return ts, err
}

// findTarget returns t as the catalog knows it, or an error wrapping
// ErrNotFound if nothing was ever uploaded to it.
func (d *deps) findTarget(ctx context.Context, t Target) (*TargetInfo, error) {
	ts, err := d.heads(ctx)
	if err != nil {
		return nil, err
	}
	for i := range ts {
		if ts[i].Target == t {
			return &ts[i], nil
		}
	}
	return nil, fmt.Errorf("target %s: %w", t, ErrNotFound)
}

// failing returns the targets whose publishes failed at least times in a
// row, or have been failing for at least dur.
func (d *deps) failing(ctx context.Context, times int, dur time.Duration) ([]TargetInfo, error) {
	heads, err := d.heads(ctx)
	if err != nil {
		return nil, err
	}
	var out []TargetInfo
	now := d.now()
	for _, ti := range heads {
		if ti.PublishFailures == 0 {
			continue
		}
		if ti.PublishFailures >= times || (ti.FailingSince != nil && now.Sub(*ti.FailingSince) >= dur) {
			out = append(out, ti)
		}
	}
	return out, nil
}

// path returns the path of t's own tree, or "" when its format does not
// say.
func (d *deps) path(t Target) string {
	spec, err := d.spec(t.Distro)
	if err != nil {
		return ""
	}
	if l, ok := spec.Format.(Layout); ok {
		if ps := l.Prefixes(t); len(ps) > 0 {
			return ps[0]
		}
	}
	return ""
}
