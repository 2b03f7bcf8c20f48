package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

//go:embed static templates
var files embed.FS

// asset is one embedded static file, with its compressed forms.
type asset struct {
	ctype        string
	raw, gz, zst []byte
}

// assets are the embedded static files by hashed name
// ("app.3f2a1b9c.css"), and the hashed name of each file.
type assets struct {
	byHashed map[string]*asset
	hashed   map[string]string
}

// loadAssets reads the embedded static files, names each by the first 8
// bytes of its SHA-256, and compresses it once.
func loadAssets() (*assets, error) {
	as := &assets{byHashed: map[string]*asset{}, hashed: map[string]string{}}
	err := fs.WalkDir(files, "static", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		name := path.Base(p)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:8]) + ext
		a := &asset{ctype: mime.TypeByExtension(ext), raw: data}
		if a.ctype == "" {
			a.ctype = "application/octet-stream"
		}
		if compressible(a.ctype) {
			if a.gz, err = gzipBytes(data); err != nil {
				return err
			}
			if a.zst, err = zstdBytes(data); err != nil {
				return err
			}
		}
		as.byHashed[hashed] = a
		as.hashed[name] = hashed
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: load assets: %w", err)
	}
	return as, nil
}

// url returns the path of the static file name under its hashed name.
func (as *assets) url(name string) (string, error) {
	h, ok := as.hashed[name]
	if !ok {
		return "", fmt.Errorf("web: no asset %q", name)
	}
	return "/static/" + h, nil
}

// static serves an asset by its hashed name: it never changes, so it may
// be cached for a year.
func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	a, ok := s.assets.byHashed[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Add("Vary", "Accept-Encoding")
	body := a.raw
	switch enc := encoding(r); {
	case enc == "zstd" && a.zst != nil:
		h.Set("Content-Encoding", "zstd")
		body = a.zst
	case enc == "gzip" && a.gz != nil:
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// compressible reports whether a content type is text worth compressing.
func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") || strings.Contains(ctype, "json") ||
		strings.Contains(ctype, "svg")
}

// encoding picks the response encoding from Accept-Encoding: zstd, then
// gzip, else none ("identity"). A coding with q=0 is refused.
func encoding(r *http.Request) string {
	var zstdOK, gzipOK bool
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if q := strings.ReplaceAll(params, " ", ""); q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000" {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "zstd":
			zstdOK = true
		case "gzip":
			gzipOK = true
		}
	}
	switch {
	case zstdOK:
		return "zstd"
	case gzipOK:
		return "gzip"
	}
	return "identity"
}

var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
})

func zstdBytes(b []byte) ([]byte, error) {
	enc, err := zstdEncoder()
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	return enc.EncodeAll(b, nil), nil
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	zw.Write(b)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// send writes body with the status and content type, compressed with zstd
// or gzip when the client takes it and the body is worth it.
func send(w http.ResponseWriter, r *http.Request, code int, ctype string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Add("Vary", "Accept-Encoding")
	if len(body) >= 1024 {
		var err error
		var out []byte
		switch encoding(r) {
		case "zstd":
			out, err = zstdBytes(body)
			h.Set("Content-Encoding", "zstd")
		case "gzip":
			out, err = gzipBytes(body)
			h.Set("Content-Encoding", "gzip")
		}
		if err == nil && out != nil {
			body = out
		} else {
			h.Del("Content-Encoding")
		}
	}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
