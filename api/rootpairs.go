package api

import (
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pierhq/pier/repo"
)

// rootPairs remembers, per client address, which bytes of each root that
// has a detached signature (repomd.xml, Release) it was last served, so
// that the signature it asks for next matches what it holds even when a
// publish switched the target's generation between its two requests:
// dnf reads repomd.xml, then repomd.xml.asc; apt without InRelease reads
// Release, then Release.gpg. Without this a client that straddles a
// publish fails the refresh ("Bad GPG signature", "BADSIG"). A signature
// file holding the signatures of both generations does not do it: dnf's
// librepo stops at the first signature that does not verify.
//
// The memory is per node: behind several nodes, a balancer must send one
// client's root requests to one node (deploy/cluster/nginx.conf), and
// behind a proxy the node must trust it (auth.trusted_proxies) to see
// each client's address; clients that share an address are no worse off
// than without it.
type rootPairs struct {
	mu   sync.Mutex
	seen map[string]pairSeen // client address + "\x00" + root path
}

// pairSeen is which bytes of a root a client was served, and when.
type pairSeen struct {
	sha string
	at  time.Time
}

const (
	// pairWindow is how long a served root is remembered: the time a
	// client takes between a root and its signature, with room to spare.
	pairWindow = 30 * time.Second
	// pairMax bounds the memory (~100 bytes an entry); past it, entries
	// older than pairWindow go, and when none are, all.
	pairMax = 1 << 16
)

// signatureRoot returns the root that the detached signature at path
// signs, if path is one.
func signatureRoot(path string) (string, bool) {
	if base, ok := strings.CutSuffix(path, "/repomd.xml.asc"); ok {
		return base + "/repomd.xml", true
	}
	if base, ok := strings.CutSuffix(path, "/Release.gpg"); ok {
		return base + "/Release", true
	}
	return "", false
}

// hasSignature reports whether path is a root with a detached signature.
func hasSignature(path string) bool {
	return strings.HasSuffix(path, "/repomd.xml") || strings.HasSuffix(path, "/Release")
}

// served records that client was given sha at path.
func (p *rootPairs) served(client, path, sha string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = map[string]pairSeen{}
	}
	if len(p.seen) >= pairMax {
		for k, v := range p.seen {
			if now.Sub(v.at) > pairWindow {
				delete(p.seen, k)
			}
		}
		if len(p.seen) >= pairMax {
			clear(p.seen)
		}
	}
	p.seen[client+"\x00"+path] = pairSeen{sha: sha, at: now}
}

// last returns the bytes of path that client was last given, within
// pairWindow.
func (p *rootPairs) last(client, path string, now time.Time) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.seen[client+"\x00"+path]
	if !ok || now.Sub(v.at) > pairWindow {
		return "", false
	}
	return v.sha, true
}

// pairRoot is called for every root file f served at path. A root with a
// detached signature is recorded for the client; for a signature, it
// returns the previous generation's signature (and true) when the client
// was last given that generation's root, not the current one.
func (s *Server) pairRoot(c echo.Context, path string, f repo.Served) (repo.Served, bool) {
	if hasSignature(path) {
		s.pairs.served(c.RealIP(), path, f.SHA256, time.Now())
		return f, false
	}
	root, ok := signatureRoot(path)
	if !ok {
		return f, false
	}
	sha, ok := s.pairs.last(c.RealIP(), root, time.Now())
	if !ok {
		return f, false
	}
	if prevRoot, ok := s.svc.PreviousRoot(root); !ok || prevRoot.SHA256 != sha {
		return f, false // the client holds the current root (or one too old to pair)
	}
	prev, ok := s.svc.PreviousRoot(path)
	if !ok {
		return f, false
	}
	return prev, true
}
