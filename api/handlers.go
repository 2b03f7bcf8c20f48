package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/mirror"
	"github.com/pierhq/pier/storage"
)

// UploadResult is the JSON reply for one uploaded package.
type UploadResult struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Arch      string `json:"architecture"`
	Component string `json:"component"`
	SHA256    string `json:"sha256"`
	// OriginalSHA256 is the uploaded bytes' sha256 when Pier rewrote them
	// (rpm signing); SHA256 is then the published file's.
	OriginalSHA256 string `json:"original_sha256,omitempty"`
	Size           int64  `json:"size"`
	Path           string `json:"path,omitempty"`
	Target         string `json:"target"`
	Created        bool   `json:"created"`
	// Filename and Error are set in multipart replies.
	Filename string `json:"filename,omitempty"`
	Error    string `json:"error,omitempty"`
	Status   int    `json:"status,omitempty"`
	// RequestID is the X-Request-Id of the upload, also in the server log.
	RequestID string `json:"request_id,omitempty"`
}

// upload takes one package as the raw body, or several as multipart form
// files named "file". Every failure is a 4xx with a message except the
// server's own (5xx; a full disk is 507); a client that goes away is
// logged and audited as 499, "aborted".
func (s *Server) upload(c echo.Context) error {
	t, err := target(c)
	if err != nil {
		return err
	}
	req := c.Request()
	if err := s.mayCreate(req.Context(), t); err != nil {
		s.record(c, audit.Upload, t, uploadDetail("", nil, err))
		return err
	}
	if s.cfg.MaxUploadSize > 0 && req.ContentLength > s.cfg.MaxUploadSize {
		err := fmt.Errorf("upload of %d bytes is over the limit of %d bytes: %w", req.ContentLength, s.cfg.MaxUploadSize, repo.ErrTooLarge)
		s.record(c, audit.Upload, t, uploadDetail("", nil, err))
		return err
	}
	publish, err := boolParam(c, "publish", true)
	if err != nil {
		return err
	}
	opts := repo.IngestOptions{Component: c.QueryParam("component")}
	// The audit event of an upload that adds a package is written with it;
	// others (refused, unchanged) are written afterwards.
	var ev *audit.Event
	auditAs := func(filename string) func(p *repo.Package) *audit.Event {
		ev = nil
		if s.audit == nil {
			return nil
		}
		return func(p *repo.Package) *audit.Event {
			ev = s.event(c, audit.Upload, t, uploadDetail(filename, &repo.IngestResult{Package: p, Created: true}, nil))
			return ev
		}
	}
	settle := func(filename string, res *repo.IngestResult, err error) {
		if ev != nil && ev.Recorded() {
			return
		}
		s.record(c, audit.Upload, t, uploadDetail(filename, res, err))
	}
	if req.ContentLength == 0 {
		// Nothing to read: say so rather than what a parser makes of it.
		err := fmt.Errorf("the request body is empty: send the package file as the body (curl --data-binary @FILE) "+
			"or as multipart form files named \"file\": %w", repo.ErrInvalid)
		s.record(c, audit.Upload, t, uploadDetail("", nil, err))
		return err
	}

	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		opts.Audit = auditAs("")
		res, err := s.svc.Ingest(req.Context(), t, req.Body, opts)
		settle("", res, err)
		if err != nil {
			return err
		}
		if publish && res.Created {
			s.svc.SchedulePublish(t)
		}
		code := http.StatusOK
		if res.Created {
			code = http.StatusCreated
		}
		r := result(t, res)
		r.RequestID = requestID(c)
		return c.JSON(code, r)
	}

	mr, err := req.MultipartReader()
	if err != nil {
		return fmt.Errorf("read multipart body: %w: %w", err, repo.ErrInvalid)
	}
	var out []UploadResult
	var firstErr error
	created := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return multipartError(err)
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		filename := part.FileName()
		opts.Audit = auditAs(filename)
		res, err := s.svc.Ingest(req.Context(), t, &partReader{p: part}, opts)
		part.Close()
		settle(filename, res, err)
		if err != nil {
			if fault(err) != "" {
				return err // the client is gone or too slow: the rest will not come
			}
			code, msg := s.failed(c, err)
			if firstErr == nil {
				firstErr = err
			}
			out = append(out, UploadResult{Target: t.String(), Filename: filename, Error: msg, Status: code,
				RequestID: requestID(c)})
			continue
		}
		r := result(t, res)
		r.Filename = filename
		r.RequestID = requestID(c)
		r.Status = http.StatusOK
		if res.Created {
			r.Status = http.StatusCreated
			created = true
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return fmt.Errorf("multipart body has no part named \"file\": %w", repo.ErrInvalid)
	}
	if created && publish {
		s.svc.SchedulePublish(t)
	}
	code := http.StatusOK
	switch {
	case firstErr != nil:
		code = status(firstErr)
		c.Set(reasonKey, message(firstErr, code))
	case created:
		code = http.StatusCreated
	}
	return c.JSON(code, out)
}

// multipartError is a failure of the multipart reader: the client's when
// the body stopped, a malformed body (400) otherwise.
func multipartError(err error) error {
	if fault(err) != "" {
		return fmt.Errorf("read multipart body: %w", err)
	}
	return fmt.Errorf("read multipart body: %w: %w", err, repo.ErrInvalid)
}

// partReader reads one multipart part; an error of the multipart framing
// (a truncated part) is the client's malformed body, not a server error.
type partReader struct{ p io.Reader }

func (r *partReader) Read(b []byte) (int, error) {
	n, err := r.p.Read(b)
	if err != nil && err != io.EOF && fault(err) == "" {
		err = fmt.Errorf("malformed multipart body: %w: %w", err, repo.ErrInvalid)
	}
	return n, err
}

// boolParam reads the query parameter name as a boolean (true, false, 1,
// 0, …; absent: def); anything else is 400.
func boolParam(c echo.Context, name string, def bool) (bool, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("query parameter %s=%q: want true or false: %w", name, v, repo.ErrInvalid)
	}
	return b, nil
}

func result(t repo.Target, res *repo.IngestResult) UploadResult {
	p := res.Package
	return UploadResult{Name: p.Name, Version: p.Version, Arch: p.Arch, Component: p.Component, SHA256: p.SHA256,
		OriginalSHA256: p.OrigSHA256, Size: p.Size, Path: res.Path, Target: t.String(), Created: res.Created}
}

// param returns a path parameter unescaped ("1%3A2.0" → "1:2.0").
func param(c echo.Context, name string) string {
	v := c.Param(name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// deletePackage removes one package and, unless ?publish=false, schedules
// a publish of its target.
func (s *Server) deletePackage(c echo.Context) error {
	t, err := target(c)
	if err != nil {
		return err
	}
	name, version, arch := param(c, "name"), param(c, "version"), param(c, "arch")
	publish, err := boolParam(c, "publish", true)
	if err != nil {
		return err
	}
	ev := s.event(c, audit.Delete, t, map[string]string{"name": name, "version": version, "architecture": arch})
	if err := s.svc.Delete(s.inContext(c, ev), t, name, version, arch); err != nil {
		return err
	}
	s.settle(c, ev)
	if publish {
		s.svc.SchedulePublish(t)
	}
	return c.JSON(http.StatusOK, map[string]string{"deleted": name + " " + version + " " + arch, "target": t.String(),
		"request_id": requestID(c)})
}

func (s *Server) publish(c echo.Context) error {
	t, err := target(c)
	if err != nil {
		return err
	}
	if err := s.mayCreate(c.Request().Context(), t); err != nil {
		return err
	}
	ev := s.event(c, audit.Publish, t, nil) // the publish adds its generation and package count
	gen, err := s.svc.Publish(s.inContext(c, ev), t)
	if err != nil {
		return err
	}
	if !ev.Recorded() { // answered by a publish that another request started
		ev.Set("generation", gen.Seq)
		ev.Set("packages", gen.Packages)
	}
	s.settle(c, ev)
	return c.JSON(http.StatusOK, gen)
}

func (s *Server) listMirrors(c echo.Context) error {
	st := []mirror.Status{}
	if s.mirrors != nil {
		st = s.mirrors.Status()
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) listTargets(c echo.Context) error {
	ts, err := s.svc.Targets(c.Request().Context())
	if err != nil {
		return err
	}
	// A token sees the targets it holds any scope on (admin: all); the
	// tombstones of removed targets are nobody's.
	p := principal(c)
	out := []repo.TargetInfo{}
	for _, ti := range repo.LiveTargets(ts) {
		if p.Touches(ti.Target) {
			out = append(out, ti)
		}
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) publicKey(c echo.Context) error {
	k, ok := s.rt.Load().keys[c.Param("name")]
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no such key")
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, k.ContentType, k.Data)
}

// serveFile serves a published file from the current view.
func (s *Server) serveFile(c echo.Context) error {
	path := strings.TrimPrefix(c.Request().URL.Path, "/")
	if strings.HasPrefix(path, "api/") {
		return s.apiMiss(c)
	}
	f, ok := s.svc.Lookup(path)
	if !ok {
		// Under a private target's tree, a missing path answers like an
		// existing one (401 without credentials), so nobody can probe
		// which releases and pool files exist.
		if owners := s.svc.Owners(path); len(owners) > 0 {
			if err := s.authorizeFile(c, owners); err != nil {
				return err
			}
		}
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	if err := s.authorizeFile(c, f.Targets); err != nil {
		return err
	}
	paired := false
	if f.Kind == repo.KindRoot {
		f, paired = s.pairRoot(c, path, f)
	}
	ctx := c.Request().Context()
	var sf *smallFile
	if !paired { // the cache holds the current bytes of a path
		if sf = s.small.get(path, f); sf == nil {
			var err error
			if sf, err = s.small.load(ctx, s.svc.Blobs(), path, f); err != nil {
				return err
			}
		}
	}
	if sf != nil {
		sf.serve(c.Response(), c.Request())
		return nil
	}
	obj, err := s.svc.Blobs().Open(ctx, f.SHA256)
	if err != nil {
		return err
	}
	defer obj.Close()
	h := c.Response().Header()
	for k, v := range fileHeader(path, f) {
		h[k] = v
	}
	// A local blob goes out as its *os.File, which sendfile can send.
	var content io.ReadSeeker = obj
	if fl, ok := obj.(storage.Filer); ok {
		content = fl.File()
	}
	http.ServeContent(fileWriter{c.Response()}, c.Request(), "", f.ModTime, content)
	return nil
}
