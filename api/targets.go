package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// removeTarget answers DELETE /api/v1/targets/{stream}/{distro}/{release}
// (scope delete on the target): the target is listed, served and
// published no more; its blobs go at a later garbage collection and its
// mirror copies from the next sync on (see repo.Service.RemoveTarget).
// Audited as target.remove, in the removal's transaction.
func (s *Server) removeTarget(c echo.Context) error {
	t, err := target(c)
	if err != nil {
		return err
	}
	ev := s.event(c, audit.TargetRemove, t, nil)
	res, err := s.svc.RemoveTarget(s.inContext(c, ev), t)
	if err != nil {
		return err
	}
	s.settle(c, ev)
	return c.JSON(http.StatusOK, RemoveReply{RemovedTarget: res, RequestID: requestID(c)})
}

// RemoveReply is the answer to DELETE /api/v1/targets/{s}/{d}/{r}.
type RemoveReply struct {
	repo.RemovedTarget
	RequestID string `json:"request_id,omitempty"`
}

// mayCreate refuses, with 422 naming the allowed patterns, a call that
// would create t when targets.allow is set and t matches none of its
// patterns; an existing target is always allowed.
func (s *Server) mayCreate(ctx context.Context, t repo.Target) error {
	allow := s.rt.Load().allow
	if len(allow) == 0 {
		return nil
	}
	_, err := s.svc.FindTarget(ctx, t)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, repo.ErrNotFound):
		return err
	}
	for _, p := range allow {
		if auth.MatchTarget(p, t) {
			return nil
		}
	}
	return echo.NewHTTPError(http.StatusUnprocessableEntity, fmt.Sprintf(
		"target %s does not exist and this server lets uploads create only targets matching %s (targets.allow): a typo in the target?",
		t, strings.Join(allow, ", ")))
}
