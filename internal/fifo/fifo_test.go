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
