package api_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
)

// multipartOf encodes files (name → bytes, in order) as form files named
// "file".
func multipartOf(t *testing.T, files [][2]any) ([]byte, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range files {
		w, err := mw.CreateFormFile("file", f[0].(string))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f[1].([]byte))
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// TestUploadSet: POST …/sources takes a .dsc with its files (201, then
// 200), needs the upload scope, refuses an incomplete set (422 naming the
// file, nothing recorded, the refusal audited) and a non-multipart body
// (400); POST …/changes with an uploaders rule refuses an unsigned
// .changes with 403.
func TestUploadSet(t *testing.T) {
	keys := []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5\n-----END PGP PUBLIC KEY BLOCK-----\n")
	e := newEnv(t, auth.Config{}, api.Config{Uploaders: []api.Uploaders{{Targets: "signed/*/*", Keys: keys}}})
	dir := filepath.Join("..", "repo", "deb", "testdata", "src")
	var set [][2]any
	for _, n := range []string{"pier-src_1.0-1.dsc", "pier-src_1.0.orig.tar.gz", "pier-src_1.0-1.debian.tar.xz"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		set = append(set, [2]any{n, b})
	}
	up := e.token("up", "upload:5.8/*/*", "upload:signed/*/*")
	ro := e.token("ro", "read:5.8/*/*")
	post := func(route, tok string, files [][2]any) (int, map[string]any) {
		body, ct := multipartOf(t, files)
		w := e.do(req{method: "POST", path: "/api/v1/targets/5.8/debian/bookworm/" + route, body: body, bearer: tok,
			hdr: map[string]string{"Content-Type": ct}})
		var m map[string]any
		json.Unmarshal(w.Body.Bytes(), &m)
		return w.Code, m
	}
	if code, _ := post("sources", ro, set); code != http.StatusForbidden {
		t.Errorf("without upload scope: %d", code)
	}
	code, m := post("sources", up, set[:2])
	if code != http.StatusUnprocessableEntity || !strings.Contains(m["error"].(string), "pier-src_1.0-1.debian.tar.xz") {
		t.Errorf("incomplete set: %d %v", code, m)
	}
	refused := false
	for _, ev := range e.events() {
		refused = refused || (ev.Action == audit.Upload && strings.Contains(string(ev.Detail), "refused"))
	}
	if !refused {
		t.Error("the refused set is not in the audit log")
	}
	w := e.do(req{method: "POST", path: "/api/v1/targets/5.8/debian/bookworm/sources", body: []byte("x"), bearer: up})
	if w.Code != http.StatusBadRequest {
		t.Errorf("a raw body: %d %s", w.Code, w.Body)
	}
	code, m = post("sources", up, set)
	pkgs, _ := m["packages"].([]any)
	if code != http.StatusCreated || len(pkgs) != 1 || pkgs[0].(map[string]any)["architecture"] != "source" {
		t.Fatalf("source upload: %d %v", code, m)
	}
	if code, _ := post("sources", up, set); code != http.StatusOK {
		t.Errorf("the same set again: %d", code)
	}
	changes := []byte("Format: 1.8\nDate: Tue, 14 Nov 2023 22:13:20 +0000\nSource: pier-src\nVersion: 1.0-1\nDistribution: unstable\n" +
		"Files:\n 00000000000000000000000000000000 1 misc optional x.deb\nChecksums-Sha256:\n " + strings.Repeat("0", 64) + " 1 x.deb\n")
	body, ct := multipartOf(t, [][2]any{{"x.changes", changes}, {"x.deb", []byte("x")}})
	w = e.do(req{method: "POST", path: "/api/v1/targets/signed/debian/bookworm/changes", body: body, bearer: up,
		hdr: map[string]string{"Content-Type": ct}})
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "not signed") {
		t.Errorf("unsigned .changes to a target with uploaders: %d %s", w.Code, w.Body)
	}
}
