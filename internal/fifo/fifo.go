// Package fifo is a bounded map that forgets its oldest entries first: the
// memories the formats keep between publishes (what they wrote, what they
// checked) without growing with a server's uptime.
package fifo

import "sync"

// Map holds at most its bound of entries; adding one past the bound drops
// the oldest. A nil *Map holds nothing. Safe for concurrent use.
type Map[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	m     map[K]V
	order []K // keys, oldest first
}

// New returns an empty Map of at most max entries.
func New[K comparable, V any](max int) *Map[K, V] {
	return &Map[K, V]{max: max, m: map[K]V{}}
}

// Put adds k with v; a key already held keeps its value and place.
func (m *Map[K, V]) Put(k K, v V) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[k]; ok {
		return
	}
	m.m[k] = v
	m.order = append(m.order, k)
	if len(m.order) > m.max {
		delete(m.m, m.order[0])
		m.order = m.order[1:]
	}
}

// Get returns the value of k.
func (m *Map[K, V]) Get(k K) (V, bool) {
	if m == nil {
		var zero V
		return zero, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[k]
	return v, ok
}

// Sized maps keys to values that each weigh something (a target's
// remembered packages: their count), holding at most its bound of weight
// in all: setting a key replaces its value and makes it the newest, and
// the oldest entries go first once the total weight passes the bound (the
// newest always stays). A nil *Sized holds nothing. Safe for concurrent
// use.
type Sized[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	total int
	m     map[K]sized[V]
	order []K // keys, oldest first
}

type sized[V any] struct {
	v      V
	weight int
}

// NewSized returns an empty Sized of at most max weight.
func NewSized[K comparable, V any](max int) *Sized[K, V] {
	return &Sized[K, V]{max: max, m: map[K]sized[V]{}}
}

// Set makes v, of that weight, the value of k and k the newest key. A
// value heavier than the bound on its own is not kept (and k forgotten).
func (s *Sized[K, V]) Set(k K, v V, weight int) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[k]; ok {
		s.total -= old.weight
		delete(s.m, k)
		for i, o := range s.order {
			if o == k {
				s.order = append(s.order[:i], s.order[i+1:]...)
				break
			}
		}
	}
	if weight > s.max {
		return
	}
	s.m[k] = sized[V]{v, weight}
	s.order = append(s.order, k)
	s.total += weight
	for s.total > s.max && len(s.order) > 1 {
		oldest := s.order[0]
		s.total -= s.m[oldest].weight
		delete(s.m, oldest)
		s.order = s.order[1:]
	}
}

// Get returns the value of k.
func (s *Sized[K, V]) Get(k K) (V, bool) {
	if s == nil {
		var zero V
		return zero, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	return e.v, ok
}

// Weight returns the total weight held.
func (s *Sized[K, V]) Weight() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}
