package fifo

import "testing"

// TestMap: the oldest entry goes first past the bound, a repeated key keeps
// its first value, and a nil Map holds nothing.
func TestMap(t *testing.T) {
	m := New[string, int](2)
	m.Put("a", 1)
	m.Put("b", 2)
	m.Put("a", 9)
	if v, ok := m.Get("a"); !ok || v != 1 {
		t.Errorf("a: %d %v, want 1 true", v, ok)
	}
	m.Put("c", 3)
	if _, ok := m.Get("a"); ok {
		t.Error("a kept past the bound")
	}
	for k, want := range map[string]int{"b": 2, "c": 3} {
		if v, ok := m.Get(k); !ok || v != want {
			t.Errorf("%s: %d %v", k, v, ok)
		}
	}
	var none *Map[string, int]
	none.Put("x", 1)
	if _, ok := none.Get("x"); ok {
		t.Error("a nil Map held an entry")
	}
}

// TestSized: setting a key replaces it and makes it the newest; the oldest
// go first past the bound; a value heavier than the bound is not kept; a
// nil Sized holds nothing.
func TestSized(t *testing.T) {
	s := NewSized[string, int](10)
	s.Set("a", 1, 5)
	s.Set("b", 2, 5)
	s.Set("a", 3, 5) // replaces a, now the newest
	s.Set("c", 4, 1) // 11 > 10: b, the oldest, goes
	if _, ok := s.Get("b"); ok {
		t.Error("b kept")
	}
	if v, ok := s.Get("a"); !ok || v != 3 {
		t.Errorf("a = %d, %v; want 3", v, ok)
	}
	if v, ok := s.Get("c"); !ok || v != 4 || s.Weight() != 6 {
		t.Errorf("c = %d, %v, weight %d; want 4, 6", v, ok, s.Weight())
	}
	s.Set("a", 5, 11) // too heavy: a forgotten
	if _, ok := s.Get("a"); ok || s.Weight() != 1 {
		t.Errorf("a too heavy: kept %v, weight %d", ok, s.Weight())
	}
	var none *Sized[string, int]
	none.Set("x", 1, 1)
	if _, ok := none.Get("x"); ok || none.Weight() != 0 {
		t.Error("a nil Sized holds something")
	}
}
