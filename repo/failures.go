package repo

import (
	"sync"
	"time"
)

// failure is a publish failure this process saw, kept in memory too: the
// catalog write that records it can fail for the same reason (a full
// disk), and the target must still say failed.
type failure struct {
	msg   string
	count int
	since time.Time
}

// failures are the publish failures this process saw, by target id, until
// the target's next good publish.
type failures struct {
	mu   sync.Mutex
	byID map[int64]failure
}

// failed remembers a failed publish of target id at now.
func (fs *failures) failed(id int64, msg string, now time.Time) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.byID == nil {
		fs.byID = map[int64]failure{}
	}
	f := fs.byID[id]
	if f.count == 0 {
		f.since = now.UTC()
	}
	f.count++
	f.msg = msg
	fs.byID[id] = f
}

// succeeded forgets target id's failures.
func (fs *failures) succeeded(id int64) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	delete(fs.byID, id)
}

// overlay adds the failures this process saw to ts where the catalog knows
// fewer.
func (fs *failures) overlay(ts []TargetInfo) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i := range ts {
		f, ok := fs.byID[ts[i].ID]
		if !ok || f.count <= ts[i].PublishFailures {
			continue
		}
		ts[i].PublishError, ts[i].PublishFailures = f.msg, f.count
		if ts[i].FailingSince == nil {
			since := f.since
			ts[i].FailingSince = &since
		}
		ts[i].State = ts[i].PublishState()
	}
}
