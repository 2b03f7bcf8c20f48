package api

import (
	"fmt"
	"testing"
	"time"
)

func TestSignatureRoot(t *testing.T) {
	for path, want := range map[string]string{
		"rpm/5.8/el/9/repodata/repomd.xml.asc":          "rpm/5.8/el/9/repodata/repomd.xml",
		"rpm/5.8/el/9/source/repodata/repomd.xml.asc":   "rpm/5.8/el/9/source/repodata/repomd.xml",
		"deb/5.8/debian/dists/bookworm/Release.gpg":     "deb/5.8/debian/dists/bookworm/Release",
		"deb/5.8/debian/dists/bookworm/InRelease":       "",
		"rpm/5.8/el/9/repodata/repomd.xml":              "",
		"rpm/5.8/el/9/repodata/repomd.xml.key":          "",
		"deb/5.8/debian/dists/bookworm/NotRelease.gpg":  "",
		"apk/5.8/alpine/v3.20/main/x86_64/APKINDEX.tar": "",
	} {
		got, ok := signatureRoot(path)
		if got != want || ok != (want != "") {
			t.Errorf("signatureRoot(%q) = %q, %v; want %q", path, got, ok, want)
		}
		if ok && !hasSignature(got) {
			t.Errorf("hasSignature(%q) = false", got)
		}
	}
	if hasSignature("deb/5.8/debian/dists/bookworm/InRelease") {
		t.Error("hasSignature(InRelease) = true: it signs itself")
	}
}

func TestRootPairsWindow(t *testing.T) {
	var p rootPairs
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	p.served("192.0.2.1", "r/repomd.xml", "aa", t0)
	p.served("192.0.2.2", "r/repomd.xml", "bb", t0)
	if sha, ok := p.last("192.0.2.1", "r/repomd.xml", t0.Add(pairWindow)); !ok || sha != "aa" {
		t.Errorf("client 1 at the end of the window: %q %v, want aa", sha, ok)
	}
	if sha, ok := p.last("192.0.2.2", "r/repomd.xml", t0.Add(time.Second)); !ok || sha != "bb" {
		t.Errorf("client 2: %q %v, want bb", sha, ok)
	}
	if _, ok := p.last("192.0.2.1", "r/repomd.xml", t0.Add(pairWindow+time.Second)); ok {
		t.Error("remembered past the window")
	}
	if _, ok := p.last("192.0.2.3", "r/repomd.xml", t0); ok {
		t.Error("a client never served has a root")
	}
	// The latest root served wins.
	p.served("192.0.2.1", "r/repomd.xml", "cc", t0.Add(2*time.Second))
	if sha, _ := p.last("192.0.2.1", "r/repomd.xml", t0.Add(3*time.Second)); sha != "cc" {
		t.Errorf("after a second root: %q, want cc", sha)
	}
}

func TestRootPairsBound(t *testing.T) {
	var p rootPairs
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	for i := range pairMax {
		p.served(fmt.Sprint("c", i), "r/Release", "old", t0)
	}
	// Full: the next entry, past the window, drops the old ones.
	later := t0.Add(pairWindow + time.Second)
	p.served("new", "r/Release", "x", later)
	if n := len(p.seen); n != 1 {
		t.Errorf("%d entries after the stale ones went, want 1", n)
	}
	// Full of fresh entries: the memory starts again rather than grow.
	for i := range pairMax {
		p.served(fmt.Sprint("d", i), "r/Release", "fresh", later)
	}
	p.served("last", "r/Release", "y", later)
	if n := len(p.seen); n > pairMax {
		t.Errorf("%d entries, bound %d", n, pairMax)
	}
	if sha, ok := p.last("last", "r/Release", later); !ok || sha != "y" {
		t.Errorf("the entry that overflowed: %q %v", sha, ok)
	}
}
