package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// Uploaders is one rule of the uploaders configuration: the .changes
// uploaded to targets matching Targets must be signed by one of Keys.
type Uploaders struct {
	// Targets is a stream/distro/release glob pattern (auth.MatchTarget).
	Targets string
	// Keys is the armored OpenPGP public key ring of the allowed uploaders.
	Keys []byte
}

// uploaderKeys returns the key ring of the first uploaders rule matching
// t, nil when none does.
func (s *Server) uploaderKeys(t repo.Target) []byte {
	for _, u := range s.rt.Load().uploaders {
		if auth.MatchTarget(u.Targets, t) {
			return u.Keys
		}
	}
	return nil
}

// SetUploadResult is the JSON reply of a set upload (…/sources,
// …/changes): every package it holds and what became of every file.
type SetUploadResult struct {
	Target   string             `json:"target"`
	Packages []UploadResult     `json:"packages"`
	Files    []repo.SetFileInfo `json:"files"`
	// Signer is the fingerprint of the uploader key that signed the
	// .changes, when the target's uploaders rule checked it.
	Signer    string `json:"signer,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// uploadSet takes files that belong together as multipart form files named
// "file" in one request: a source package (POST …/sources: one or more
// .dsc and every file they list; binary packages may come along) or, with
// listed, a .changes and every file it lists (POST …/changes). The set is
// checked whole and added all or nothing (repo.Service.IngestSet).
func (s *Server) uploadSet(listed bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := target(c)
		if err != nil {
			return err
		}
		req := c.Request()
		refuse := func(err error) error {
			s.record(c, audit.Upload, t, uploadDetail("", nil, err))
			return err
		}
		if err := s.mayCreate(req.Context(), t); err != nil {
			return refuse(err)
		}
		if s.cfg.MaxUploadSize > 0 && req.ContentLength > s.cfg.MaxUploadSize {
			return refuse(fmt.Errorf("upload of %d bytes is over the limit of %d bytes: %w", req.ContentLength, s.cfg.MaxUploadSize, repo.ErrTooLarge))
		}
		publish, err := boolParam(c, "publish", true)
		if err != nil {
			return err
		}
		if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt != "multipart/form-data" {
			return refuse(fmt.Errorf("send the files as multipart form files named \"file\" (curl -F file=@X.dsc -F file=@X.orig.tar.gz …): %w", repo.ErrInvalid))
		}
		mr, err := req.MultipartReader()
		if err != nil {
			return refuse(fmt.Errorf("read multipart body: %w: %w", err, repo.ErrInvalid))
		}
		var part *multipart.Part
		next := func() (string, io.Reader, error) {
			if part != nil {
				part.Close()
			}
			for {
				p, err := mr.NextPart()
				if errors.Is(err, io.EOF) {
					return "", nil, io.EOF
				}
				if err != nil {
					return "", nil, multipartError(err)
				}
				if p.FormName() != "file" {
					p.Close()
					continue
				}
				part = p
				return p.FileName(), &partReader{p: p}, nil
			}
		}
		var ev *audit.Event
		opts := repo.SetOptions{Component: c.QueryParam("component"), Listed: listed}
		if listed {
			opts.UploaderKeys = s.uploaderKeys(t)
		}
		if s.audit != nil {
			opts.Audit = func(ps []*repo.Package) *audit.Event {
				names := make([]string, len(ps))
				for i, p := range ps {
					names[i] = p.Name + " " + p.Version + " " + p.Arch
				}
				ev = s.event(c, audit.Upload, t, map[string]any{"packages": names, "added": len(ps), "status": http.StatusCreated,
					"outcome": "created", "set": true})
				return ev
			}
		}
		res, err := s.svc.IngestSet(req.Context(), t, next, opts)
		if err != nil {
			return refuse(err)
		}
		out := SetUploadResult{Target: t.String(), Files: res.Files, Signer: res.Signer, RequestID: requestID(c)}
		created := false
		for _, p := range res.Packages {
			r := result(t, p.IngestResult)
			r.Filename = p.File
			r.Status = http.StatusOK
			if p.Created {
				r.Status, created = http.StatusCreated, true
			}
			out.Packages = append(out.Packages, r)
		}
		if ev == nil || !ev.Recorded() {
			s.record(c, audit.Upload, t, map[string]any{"set": true, "status": http.StatusOK, "outcome": "unchanged", "packages": len(out.Packages)})
		}
		if created && publish {
			s.svc.SchedulePublish(t)
		}
		code := http.StatusOK
		if created {
			code = http.StatusCreated
		}
		return c.JSON(code, out)
	}
}
