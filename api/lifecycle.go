package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// Lifecycle handlers: generations, rollback, promotion, pins, retention and
// garbage collection.

func (s *Server) listGenerations(c echo.Context) error {
	t, err := target(c)
	if err != nil {
		return err
	}
	gens, err := s.svc.Generations(c.Request().Context(), t)
	if err != nil {
		return err
	}
	if gens == nil {
		gens = []repo.Generation{}
	}
	return c.JSON(http.StatusOK, gens)
}

// RollbackRequest is the body of POST .../rollback.
type RollbackRequest struct {
	Generation int64 `json:"generation"`
}

func (s *Server) rollback(c echo.Context) error {
	t, err := target(c)
	if err != nil {
		return err
	}
	var req RollbackRequest
	if err := decodeJSON(c, &req, 1<<20, `{"generation": N}`); err != nil {
		return err
	}
	if req.Generation < 1 {
		return fmt.Errorf("rollback needs {\"generation\": N} with N >= 1: %w", repo.ErrInvalid)
	}
	ev := s.event(c, audit.Rollback, t, map[string]any{"to": req.Generation})
	gen, err := s.svc.Rollback(s.inContext(c, ev), t, req.Generation)
	if err != nil {
		return err
	}
	if !ev.Recorded() {
		ev.Set("generation", gen.Seq)
	}
	s.settle(c, ev)
	return c.JSON(http.StatusOK, gen)
}

// PromoteRequest is the body of POST .../promote: the destination target is
// the URL's.
type PromoteRequest struct {
	// From is the source target, "stream/distro/release".
	From string `json:"from"`
	// Packages are NAME or NAME=VERSION.
	Packages []string `json:"packages"`
	// Publish, when false, leaves publishing the destination to a later
	// call; default true.
	Publish *bool `json:"publish,omitempty"`
}

// PromoteReply is the answer to a promotion.
type PromoteReply struct {
	From       string               `json:"from"`
	To         string               `json:"to"`
	Packages   []repo.PromoteResult `json:"packages"`
	Generation *repo.Generation     `json:"generation,omitempty"`
}

func (s *Server) promote(c echo.Context) error {
	dst, err := target(c)
	if err != nil {
		return err
	}
	var req PromoteRequest
	if err := decodeJSON(c, &req, 1<<20, `{"from": "stream/distro/release", "packages": ["name[=version]", …]}`); err != nil {
		return err
	}
	src, err := repo.ParseTarget(req.From)
	if err != nil {
		return err
	}
	if err := s.allowed(c, auth.Read, src); err != nil {
		return err
	}
	if err := s.mayCreate(c.Request().Context(), dst); err != nil {
		return err
	}
	specs := make([]repo.PackageSpec, 0, len(req.Packages))
	for _, p := range req.Packages {
		sp, err := repo.ParsePackageSpec(p)
		if err != nil {
			return err
		}
		specs = append(specs, sp)
	}
	ev := s.event(c, audit.Promote, dst, map[string]any{"from": src.String(), "packages": req.Packages})
	ctx := s.inContext(c, ev)
	res, err := s.svc.Promote(ctx, src, dst, specs)
	if err != nil {
		return err
	}
	reply := PromoteReply{From: src.String(), To: dst.String(), Packages: res}
	if req.Publish == nil || *req.Publish {
		if reply.Generation, err = s.svc.Publish(ctx, dst); err != nil {
			return err
		}
	}
	s.settle(c, ev)
	return c.JSON(http.StatusOK, reply)
}

func (s *Server) listPins(c echo.Context) error {
	t, err := target(c)
	if err != nil {
		return err
	}
	pins, err := s.svc.Pins(c.Request().Context(), t)
	if err != nil {
		return err
	}
	if pins == nil {
		pins = []repo.Pin{}
	}
	return c.JSON(http.StatusOK, pins)
}

func (s *Server) pin(c echo.Context) error   { return s.setPin(c, true) }
func (s *Server) unpin(c echo.Context) error { return s.setPin(c, false) }

func (s *Server) setPin(c echo.Context, on bool) error {
	t, err := target(c)
	if err != nil {
		return err
	}
	name, version := param(c, "name"), param(c, "version")
	action := audit.Pin
	if !on {
		action = audit.Unpin
	}
	ev := s.event(c, action, t, map[string]string{"name": name, "version": version})
	if err := s.svc.SetPin(s.inContext(c, ev), t, name, version, on); err != nil {
		return err
	}
	s.settle(c, ev)
	return c.JSON(http.StatusOK, map[string]any{"target": t.String(), "name": name, "version": version, "pinned": on})
}

// PruneReply lists what a prune removed (or, with ?dry_run=true, would).
type PruneReply struct {
	Target     string           `json:"target"`
	DryRun     bool             `json:"dry_run"`
	Retention  repo.Retention   `json:"retention"`
	Removed    []repo.Package   `json:"removed"`
	Generation *repo.Generation `json:"generation,omitempty"`
}

func (s *Server) prune(c echo.Context) error {
	t, err := target(c)
	if err != nil {
		return err
	}
	dry, err := boolParam(c, "dry_run", false)
	if err != nil {
		return err
	}
	ev := s.event(c, audit.Prune, t, map[string]any{"removed": 0})
	ctx := c.Request().Context()
	if !dry {
		ctx = s.inContext(c, ev)
	}
	gone, gen, err := s.svc.Prune(ctx, t, dry)
	if err != nil {
		return err
	}
	if gone == nil {
		gone = []repo.Package{}
	}
	if !dry {
		s.settle(c, ev)
	}
	return c.JSON(http.StatusOK, PruneReply{Target: t.String(), DryRun: dry, Retention: s.svc.RetentionFor(t), Removed: gone, Generation: gen})
}

func (s *Server) collectGarbage(c echo.Context) error {
	dry, err := boolParam(c, "dry_run", false)
	if err != nil {
		return err
	}
	ev := s.event(c, audit.GC, repo.Target{}, nil)
	ctx := c.Request().Context()
	if !dry {
		ctx = s.inContext(c, ev) // the catalog's collection writes it with its counts
	}
	st, err := s.svc.CollectGarbage(ctx, repo.GCOptions{DryRun: dry, Grace: s.rt.Load().gcGrace})
	if err != nil {
		return err
	}
	if !dry {
		s.settle(c, ev)
	}
	return c.JSON(http.StatusOK, st)
}

// decodeJSON reads a small JSON request body (at most max bytes)
// strictly: one JSON value, no unknown fields. Syntax and type errors are
// 400, a larger body 413, a client that stops sending its own fault.
func decodeJSON(c echo.Context, v any, max int64, want string) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, max))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("more than one JSON value")
		}
	}
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF):
		return fmt.Errorf("request body is empty: want JSON %s: %w", want, repo.ErrInvalid)
	case fault(err) != "", errors.As(err, &mbe):
		return fmt.Errorf("request body: %w", err)
	default:
		return fmt.Errorf("request body: want JSON %s: %w: %w", want, err, repo.ErrInvalid)
	}
}
