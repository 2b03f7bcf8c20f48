package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/repo/deb"
)

// setEndpoint returns the upload route of a file that goes with the files
// it lists: "sources" for a .dsc, "changes" for a .changes, "" otherwise.
func setEndpoint(path string) string {
	switch {
	case strings.HasSuffix(path, ".dsc"):
		return "sources"
	case strings.HasSuffix(path, ".changes"):
		return "changes"
	}
	return ""
}

// pushSet sends a .dsc or .changes with every file it lists (taken from
// its directory) in one multipart request to the target's sources or
// changes route, streamed. The result names the set's first package and
// is Created when the set added any.
func (p *pusher) pushSet(ctx context.Context, path, route string) (*api.UploadResult, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	names, err := deb.ListedFiles(data, route == "changes")
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	files := []string{path}
	for _, n := range names {
		if filepath.Join(dir, n) == filepath.Clean(path) {
			continue
		}
		fp := filepath.Join(dir, n)
		if _, err := os.Stat(fp); err != nil {
			return nil, 0, fmt.Errorf("%s lists %s: %w", path, n, err)
		}
		files = append(files, fp)
	}
	q := url.Values{}
	if p.o.component != "" {
		q.Set("component", p.o.component)
	}
	if !p.o.publish {
		q.Set("publish", "false")
	}
	endpoint := p.base + "/api/v1/targets/" + p.target.String() + "/" + route
	if len(q) > 0 {
		endpoint += "?" + q.Encode()
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() { pw.CloseWithError(writeParts(mw, files)) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, pr)
	if err != nil {
		pr.Close()
		return nil, 0, err
	}
	p.headers(req)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := p.client.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		return nil, 0, &retryable{err: fmt.Errorf("send to %s: %w", p.base, unwrapURLError(err))}
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK {
		var r api.SetUploadResult
		if err := json.Unmarshal(body, &r); err != nil || rerr != nil || len(r.Packages) == 0 {
			return nil, resp.StatusCode, &retryable{err: fmt.Errorf("%s, but the reply was cut: %v%v", resp.Status, errOrEmpty(rerr), errOrEmpty(err))}
		}
		out := r.Packages[0]
		for _, pk := range r.Packages {
			out.Created = out.Created || pk.Created
		}
		return &out, resp.StatusCode, nil
	}
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	err = fmt.Errorf("%s: %s", resp.Status, msg)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return nil, resp.StatusCode, &retryable{err: err, after: retryAfter(resp.Header.Get("Retry-After"))}
	}
	return nil, resp.StatusCode, err
}

// writeParts writes each file as a form file named "file" and closes mw.
func writeParts(mw *multipart.Writer, files []string) error {
	for _, fp := range files {
		w, err := mw.CreateFormFile("file", filepath.Base(fp))
		if err != nil {
			return err
		}
		f, err := os.Open(fp)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("send %s: %w", fp, err)
		}
	}
	return mw.Close()
}
