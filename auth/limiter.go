package auth

import (
	"sync"
	"time"
)

// Limiter limits failed authentication attempts per client address with a
// token bucket: an address may fail Failures times in a row, then once per
// Window/Failures. While an address has no attempt left, every attempt
// from it (right or wrong) is refused until one accrues, so a guesser
// gains nothing by interleaving. Memory is bounded: at most MaxAddrs
// addresses are tracked; addresses whose bucket is full again are
// forgotten first. It is safe for concurrent use.
type Limiter struct {
	mu      sync.Mutex
	burst   float64
	rate    float64 // attempts regained per second
	maxAddr int
	addrs   map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	left float64
	at   time.Time
}

// DefaultFailures and DefaultWindow are the limiter's defaults: 10 failed
// attempts per minute and address.
const (
	DefaultFailures = 10
	DefaultWindow   = time.Minute
	// MaxAddrs is how many client addresses a Limiter tracks at most.
	MaxAddrs = 10000
)

// NewLimiter returns a limiter that allows failures failed attempts per
// window and address. failures <= 0 disables it.
func NewLimiter(failures int, window time.Duration) *Limiter {
	l := &Limiter{maxAddr: MaxAddrs, addrs: map[string]*bucket{}, now: time.Now}
	l.Set(failures, window)
	return l
}

// Set changes the limit (SIGHUP); tracked addresses keep their state.
func (l *Limiter) Set(failures int, window time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if window <= 0 {
		window = DefaultWindow
	}
	l.burst = float64(failures)
	l.rate = float64(failures) / window.Seconds()
}

// refill brings b up to date; l.mu is held.
func (l *Limiter) refill(b *bucket, now time.Time) {
	b.left += now.Sub(b.at).Seconds() * l.rate
	if b.left > l.burst {
		b.left = l.burst
	}
	b.at = now
}

// Allow reports whether addr may try to authenticate now, and if not, how
// long until it may.
func (l *Limiter) Allow(addr string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.burst <= 0 {
		return true, 0
	}
	b, ok := l.addrs[addr]
	if !ok {
		return true, 0
	}
	l.refill(b, l.now())
	if b.left >= 1 {
		return true, 0
	}
	wait := time.Duration((1 - b.left) / l.rate * float64(time.Second))
	return false, max(wait, time.Second)
}

// Fail records a failed attempt from addr.
func (l *Limiter) Fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.burst <= 0 {
		return
	}
	now := l.now()
	b, ok := l.addrs[addr]
	if !ok {
		if len(l.addrs) >= l.maxAddr {
			l.evict(now)
		}
		b = &bucket{left: l.burst, at: now}
		l.addrs[addr] = b
	}
	l.refill(b, now)
	b.left--
	if b.left < 0 {
		b.left = 0
	}
}

// evict makes room for one address: it forgets every address whose bucket
// is full again, and if none is, an arbitrary one. l.mu is held.
func (l *Limiter) evict(now time.Time) {
	for a, b := range l.addrs {
		l.refill(b, now)
		if b.left >= l.burst {
			delete(l.addrs, a)
		}
	}
	for a := range l.addrs {
		if len(l.addrs) < l.maxAddr {
			break
		}
		delete(l.addrs, a)
	}
}

// Tracked returns how many addresses the limiter holds state for.
func (l *Limiter) Tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.addrs)
}
