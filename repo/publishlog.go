package repo

import (
	"context"
	"time"
)

// PublishLog is an optional power of a Catalog (found by type
// assertion): a record of every publish that built a generation or
// failed, with the process (node) that ran it and when, written while the
// target's publish lock is still held. Operators see which node published
// what; the multi-node tests prove from it that no two publishes of one
// target ever overlapped.
type PublishLog interface {
	// LogPublish records r. A failure to record is logged by the caller,
	// never fails the publish.
	LogPublish(ctx context.Context, r PublishRecord) error
}

// PublishRecord is one publish of a target.
type PublishRecord struct {
	Target Target
	// Node names the process that published (Options.Node).
	Node              string
	Started, Finished time.Time
	// Generation is the generation made (0 when the publish failed).
	Generation int64
	// Error is why the publish failed ("" when it made a generation).
	Error string
}

// logPublish records a publish of t that started at started and ended
// with gen or err, when the catalog keeps a publish log.
func (p *publisher) logPublish(ctx context.Context, t Target, started time.Time, gen *Generation, err error) {
	pl, ok := p.d.cat.(PublishLog)
	if !ok {
		return
	}
	r := PublishRecord{Target: t, Node: p.d.opts.Node, Started: started, Finished: p.d.now()}
	if err != nil {
		r.Error = err.Error()
	} else if gen != nil {
		r.Generation = gen.Seq
	}
	if lerr := pl.LogPublish(context.WithoutCancel(ctx), r); lerr != nil {
		p.d.log.Warn("record publish in the publish log", "target", t.String(), "err", lerr)
	}
}
