package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"syscall"

	"github.com/labstack/echo/v4"

	"github.com/pierhq/pier/repo"
)

// StatusClientClosed is the status the log, the metrics and the audit log
// give a request whose client went away before its body ended (nginx's
// 499). It is never sent: the client is gone.
const StatusClientClosed = 499

// Outcomes of a request as the audit log and the request log name them.
const (
	outcomeAborted = "aborted" // the client went away mid-request
	outcomeTimeout = "timeout" // the client sent its body too slowly
)

// bodyError is a failure on the connection that the client caused: it
// closed the connection or stopped sending before the request body's end
// (aborted), or sent slower than the minimum rate (timeout); or, with
// write set, it stopped taking the response. It unwraps to the I/O error.
type bodyError struct {
	err     error
	timeout bool
	write   bool
}

func (e *bodyError) Error() string {
	switch {
	case e.write:
		return "the client stopped taking the response: " + e.err.Error()
	case e.timeout:
		return "request body arrived too slowly: " + e.err.Error()
	}
	return "the client stopped sending the request body: " + e.err.Error()
}

func (e *bodyError) Unwrap() error { return e.err }

// ClientFault names the client's part in the failure ("aborted" or
// "timeout"); metrics.Reason uses it as the rejection reason.
func (e *bodyError) ClientFault() string {
	if e.timeout {
		return outcomeTimeout
	}
	return outcomeAborted
}

// clientBodyError classifies a read error of a request body: EOF is the
// body's end; a deadline is the client being too slow; anything else
// (unexpected EOF, a reset connection) is the client going away.
func clientBodyError(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &bodyError{err: err, timeout: errors.Is(err, os.ErrDeadlineExceeded)}
}

// clientWriteError classifies a write error of a response: the client
// went away or stopped reading (the write deadline).
func clientWriteError(err error) error {
	if err == nil {
		return nil
	}
	return &bodyError{err: err, timeout: errors.Is(err, os.ErrDeadlineExceeded), write: true}
}

// fault returns how err ended a request when the client caused it:
// outcomeAborted, outcomeTimeout, or "" when it did not.
func fault(err error) string {
	var be *bodyError
	switch {
	case errors.As(err, &be):
		return be.ClientFault()
	case errors.Is(err, context.Canceled):
		// The request's context ends only when its client goes away.
		return outcomeAborted
	}
	return ""
}

// diskFull is what a client is told when the server's disk is full.
const diskFull = "the server's disk is full; nothing was stored"

// status maps an error to the HTTP status it stands for. Client faults
// come first: a body cut by the client is never a server error, whatever
// wraps it.
func status(err error) int {
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.Code
	case fault(err) == outcomeAborted:
		return StatusClientClosed
	case fault(err) == outcomeTimeout:
		return http.StatusRequestTimeout
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, syscall.ENOSPC):
		return http.StatusInsufficientStorage
	case errors.Is(err, repo.ErrBadPackage):
		return http.StatusUnprocessableEntity
	case errors.Is(err, repo.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, repo.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, repo.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, repo.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, repo.ErrInvalid):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

// message returns what a client may see of err: the domain message for
// client errors, a fixed text for a full disk and for other internal
// errors (whose text may name paths and is only logged).
func message(err error, code int) string {
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return fmt.Sprint(he.Message)
	case code == http.StatusInsufficientStorage:
		return diskFull
	case code == http.StatusRequestTimeout:
		return "the request body arrived too slowly; send it again on a faster link"
	case code == StatusClientClosed:
		return "the request body ended early: the client closed the connection or sent less than its Content-Length"
	case errors.As(err, &mbe):
		return fmt.Sprintf("request body is larger than %d bytes", mbe.Limit)
	case code >= 500:
		return "internal error; see the server log"
	}
	return err.Error()
}

// wireStatus is the status sent for code: 499 exists only in logs, so a
// client that can still read gets 400.
func wireStatus(code int) int {
	if code == StatusClientClosed {
		return http.StatusBadRequest
	}
	return code
}
