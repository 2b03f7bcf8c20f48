package repo

import "time"

// Observer is told about ingests and publishes (metrics). Calls must be
// cheap and must not block.
type Observer interface {
	// Ingested reports one upload: created or byte-identical, or err.
	Ingested(t Target, format string, created bool, err error)
	// Published reports one publish of t and how long it took.
	Published(t Target, format string, d time.Duration, err error)
}
