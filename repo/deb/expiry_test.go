package deb

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

// TestExpiry reads Valid-Until back from a published Release and places
// the re-sign time by the configured margin, or a third of the validity.
func TestExpiry(t *testing.T) {
	date := goldenTime.UTC()
	until := date.Add(7 * 24 * time.Hour)
	tests := []struct {
		name   string
		cfg    Config
		ok     bool
		resign time.Time
	}{
		{"no valid_days", Config{}, false, time.Time{}},
		{"default margin", Config{ValidDays: 7}, true, until.Add(-56 * time.Hour)},
		{"configured margin", Config{ValidDays: 7, ResignMargin: 24 * time.Hour}, true, until.Add(-24 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(tt.cfg)
			in := goldenInput(t, f)
			files, _ := index(t, f, in)
			reads := 0
			read := func(file repo.File) ([]byte, error) {
				reads++
				if file.Path != "deb/5.8/debian/dists/bookworm/Release" {
					t.Errorf("read %s, want the Release", file.Path)
				}
				return file.Data, nil
			}
			e, ok, err := f.Expiry(context.Background(), in.Target, files, read)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok || reads != 1 {
				t.Fatalf("ok = %v after %d reads, want %v after 1", ok, reads, tt.ok)
			}
			if !ok {
				return
			}
			if !e.ValidUntil.Equal(until) || !e.ResignAt.Equal(tt.resign) {
				t.Errorf("expiry %+v, want valid until %v, re-sign at %v", e, until, tt.resign)
			}
		})
	}
	// A Release written with valid_days 1 is re-signed in time even when the
	// configuration now says 7 days with a 2-day margin.
	old := New(Config{ValidDays: 1})
	in := goldenInput(t, old)
	files, _ := index(t, old, in)
	read := func(file repo.File) ([]byte, error) { return file.Data, nil }
	e, ok, err := New(Config{ValidDays: 7, ResignMargin: 48 * time.Hour}).Expiry(context.Background(), in.Target, files, read)
	if err != nil || !ok || !e.ValidUntil.Equal(date.Add(24*time.Hour)) || !e.ResignAt.Before(e.ValidUntil) || !e.ResignAt.After(date) {
		t.Errorf("old Release: %+v %v %v", e, ok, err)
	}
	// No Release in the generation, a read failure, a broken date.
	if _, ok, err := old.Expiry(context.Background(), repo.Target{Stream: "x", Release: "y"}, files, read); ok || err != nil {
		t.Errorf("other target: %v %v", ok, err)
	}
	boom := errors.New("boom")
	if _, _, err := old.Expiry(context.Background(), in.Target, files, func(repo.File) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}
	bad := func(repo.File) ([]byte, error) {
		return []byte("Date: yesterday\nValid-Until: Sat, 04 Jan 2025 10:00:00 UTC\n"), nil
	}
	if _, _, err := old.Expiry(context.Background(), in.Target, files, bad); err == nil {
		t.Error("a bad Date was accepted")
	}
}
