package repo

import "time"

// Observer is told about ingests and publishes (metrics). Calls must be
// cheap and must not block.
type Observer interface {
	// Ingested reports one upload: created or byte-identical, or err.
	Ingested(t Target, format string, created bool, err error)
	// Published reports one coalesced publish of t and how long it took
	// (by the service's clock); a publish cancelled by Close is not
	// reported.
	Published(t Target, format string, d time.Duration, err error)
}
