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
