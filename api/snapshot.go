package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// SnapshotRequest is the body of POST /api/v1/targets/{s}/{d}/{r}/snapshot:
// the new target to make, "stream/distro/release".
type SnapshotRequest struct {
	Target string `json:"target"`
}

// SnapshotReply is the answer to a snapshot.
type SnapshotReply struct {
	Source string `json:"source"`
	repo.SnapshotResult
	RequestID string `json:"request_id,omitempty"`
}

// snapshot makes the body's target a frozen snapshot of the route's target
// (repo.Service.Snapshot) and publishes it. The route needs publish on the
// source (a snapshot may publish it, and fixes what it serves as a
// release); the new target needs upload, the scope that creates targets
// with packages in them (and targets.allow applies to it as to an upload).
// 201 with the new target; 409 when it exists; 400 for another format.
func (s *Server) snapshot(c echo.Context) error {
	src, err := target(c)
	if err != nil {
		return err
	}
	var req SnapshotRequest
	if err := decodeJSON(c, &req, 1<<16, `{"target": "stream/distro/release"}`); err != nil {
		return err
	}
	dst, err := repo.ParseTarget(req.Target)
	if err != nil {
		return err
	}
	if err := s.allowed(c, auth.Upload, dst); err != nil {
		return err
	}
	if err := s.mayCreate(c.Request().Context(), dst); err != nil {
		return err
	}
	ev := s.event(c, audit.TargetSnapshot, dst, map[string]any{"source": src.String()})
	res, err := s.svc.Snapshot(s.inContext(c, ev), src, dst)
	if err != nil {
		return err
	}
	s.settle(c, ev)
	return c.JSON(http.StatusCreated, SnapshotReply{Source: src.String(), SnapshotResult: *res, RequestID: requestID(c)})
}
