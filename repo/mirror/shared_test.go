package mirror

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/storage/local"
)

// memState is a StateStore in memory (a cluster catalog's stand-in).
type memState struct {
	mu   sync.Mutex
	data map[string][]byte
}

func (s *memState) LoadMirrorState(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data[name], nil
}

func (s *memState) SaveMirrorState(_ context.Context, name string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[name] = data
	return nil
}

// TestSyncSharedState: with a State store and a Locker (a cluster), a sync
// keeps its state in the store, not in StateDir, and another node's
// Mirror of the same name continues from it (uploads nothing unchanged);
// the mirror's lock is taken from the Locker.
func TestSyncSharedState(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.add()
	dest, _ := local.New(t.TempDir())
	c := &counting{Backend: dest, failAfter: -1}
	store := &memState{data: map[string][]byte{}}
	lockDir := t.TempDir()
	node := func() *Mirror {
		l, err := repo.NewFileLocker(lockDir)
		if err != nil {
			t.Fatal(err)
		}
		return &Mirror{Name: "m", Dest: c, StateDir: t.TempDir(), State: store, Locker: l}
	}
	a, b := node(), node()
	if rep, err := a.Sync(ctx, f.svc); err != nil || rep.Uploaded == 0 {
		t.Fatalf("first sync: %+v %v", rep, err)
	}
	if len(store.data["m"]) == 0 {
		t.Fatal("the state was not saved in the store")
	}
	if _, err := os.Stat(a.statePath()); err == nil {
		t.Error("the state was written to StateDir too")
	}
	if _, err := os.Stat(lockDir + "/mirror-m.lock"); err != nil {
		t.Errorf("the sync did not take the Locker's lock: %v", err)
	}
	c.puts.Store(0)
	if rep, err := b.Sync(ctx, f.svc); err != nil || rep.Uploaded != 0 || c.puts.Load() != 0 {
		t.Errorf("another node's sync of nothing new: %+v, %d puts, %v", rep, c.puts.Load(), err)
	}
}
