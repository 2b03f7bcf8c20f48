package api

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// brokenPipe is a ResponseWriter whose client has gone away.
type brokenPipe struct{ http.ResponseWriter }

func (brokenPipe) Write([]byte) (int, error) { return 0, syscall.EPIPE }

// TestWriteToGoneClient: a response write that fails because the client
// went away is the client's fault (aborted), logged at INFO, never a
// server error.
func TestWriteToGoneClient(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil)), e: echo.New()}
	rec := httptest.NewRecorder()
	c := s.e.NewContext(httptest.NewRequest("GET", "/api/v1/targets", nil), rec)
	c.Response().Writer = &deadlineWriter{ResponseWriter: brokenPipe{rec}, rc: *http.NewResponseController(rec), timeout: time.Minute}
	err := c.JSON(http.StatusOK, strings.Repeat("x", 64<<10))
	if fault(err) != outcomeAborted || status(err) != StatusClientClosed {
		t.Fatalf("write to a gone client: %v (fault %q, status %d)", err, fault(err), status(err))
	}
	s.handleError(err, c)
	if !strings.Contains(logs.String(), `level=INFO msg="client stopped taking the response"`) || strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("log:\n%s", logs.String())
	}
	if st, _ := c.Get(statusKey).(int); st != http.StatusOK {
		t.Errorf("logged status %d, want the 200 that went out", st)
	}
}
