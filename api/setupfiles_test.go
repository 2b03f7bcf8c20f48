package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/apk"
	"github.com/pierhq/pier/repo/catalog/sqlite"
	"github.com/pierhq/pier/repo/deb"
	"github.com/pierhq/pier/repo/rpm"
	"github.com/pierhq/pier/storage/local"
)

// setupFiler is the api's optional format power; the three formats have it.
var _ = []interface {
	SetupFilePaths(repo.Target) []string
	SetupFile(repo.Target, repo.SetupInfo, []byte) string
}{(*deb.Format)(nil), (*rpm.Format)(nil), (*apk.Format)(nil)}

// newFilesEnv is newEnv with the deb (debian) and rpm (el) formats, rpm
// names from rpmCfg, and the public key files served under /keys/.
func newFilesEnv(t *testing.T, ac auth.Config, rpmCfg rpm.Config) *env {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	cat, err := sqlite.Open(ctx, filepath.Join(dir, "catalog.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	b, err := local.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var dc deb.Config
	dc.Defaults()
	rpmCfg.Defaults()
	if err := rpmCfg.Validate(); err != nil {
		t.Fatal(err)
	}
	formats := []repo.FormatSpec{
		{Format: deb.New(dc), Digests: deb.Digests, Distros: []string{"debian"}},
		{Format: rpm.New(rpmCfg), Digests: rpm.Digests, Distros: []string{"el"}},
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	signer := testSigner(t)
	svc, err := repo.NewService(cat, repo.NewBlobs(b), signer, formats,
		repo.Options{TmpDir: filepath.Join(dir, "tmp"), LockDir: filepath.Join(dir, "locks"), PublishDelay: time.Hour}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	ac.Tokens = append(ac.Tokens, auth.ConfigToken{Name: auth.AdminName, Secret: adminSecret, Scopes: []string{"admin"}})
	authn, err := auth.New(tokenStore{cat}, ac, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := api.New(api.Config{PublicURL: "https://pier.example.org"}, api.Deps{Service: svc, Auth: authn, Audit: cat,
		Keys:        []api.KeyFile{{Name: "pier.asc", ContentType: "application/pgp-keys", Data: signer.PublicKey()}},
		Fingerprint: signer.Fingerprint(), Fingerprints: signer.Fingerprints(), Log: log})
	return &env{t: t, srv: srv, h: srv.Handler(), svc: svc, cat: cat, authn: authn, logs: logs}
}

// ingestFile adds the package in file (relative to the repository root).
func (e *env) ingestFile(target, file string) {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join("..", file))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.Ingest(context.Background(), mustTarget(e.t, target), bytes.NewReader(data), repo.IngestOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// TestSetupFiles: the one-file setup downloads answer with the text of the
// target's format, as text/plain with an ETag, for GET and HEAD; a private
// target's file needs a read token like its other files (checked before
// whether the target exists); a target that is not published is 404; paths
// of the same shape that name no setup file are served (or not) as
// published files, aliases included.
func TestSetupFiles(t *testing.T) {
	e := newFilesEnv(t, auth.Config{Private: []string{"secret/*/*"}, Failures: -1},
		rpm.Config{Repos: []rpm.RepoName{{Targets: []string{"5.8/el/*"}, ID: "kamailio-{stream}-{release}", Name: "Kamailio {stream}"}}})
	for _, tg := range []string{"5.8/debian/bookworm", "secret/debian/bookworm"} {
		e.ingest(tg, "pkg", "1.0")
		e.publish(tg)
	}
	for _, tg := range []string{"5.8/el/9", "secret/el/9", "5.7/el/9"} {
		e.ingestFile(tg, "repo/rpm/testdata/hello-1.2.3-1.x86_64.rpm")
		e.publish(tg)
	}
	e.ingest("5.8/debian/trixie", "unpublished", "1.0")
	reader := e.token("reader", "read:secret/*/*")
	other := e.token("other", "read:5.8/*/*")

	for _, c := range []struct {
		name      string
		r         req
		want      int
		has, lack []string
	}{
		{"deb sources", req{path: "/deb/5.8/debian/dists/bookworm/pier.sources"}, 200,
			[]string{"URIs: https://pier.example.org/deb/5.8/debian\n", "Suites: bookworm\n", "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n"},
			[]string{"Private"}},
		{"rpm pier.repo", req{path: "/rpm/5.8/el/9/pier.repo"}, 200,
			[]string{"[kamailio-5.8-9]\nname=Kamailio 5.8\nbaseurl=https://pier.example.org/rpm/5.8/el/9/\n", "repo_gpgcheck=1\n"}, nil},
		{"rpm id.repo", req{path: "/rpm/5.8/el/9/kamailio-5.8-9.repo"}, 200, []string{"[kamailio-5.8-9]\n"}, nil},
		{"rpm default id", req{path: "/rpm/5.7/el/9/pier-5.7-el-9.repo"}, 200, []string{"[pier-5.7-el-9]\nname=Pier 5.7 el 9\n"}, nil},
		{"rpm, another target's id", req{path: "/rpm/5.7/el/9/kamailio-5.8-9.repo"}, 404, nil, []string{"["}},
		{"rpm, not a setup file", req{path: "/rpm/5.8/el/9/other.repo"}, 404, nil, []string{"["}},
		{"repository files still served", req{path: "/rpm/5.8/el/9/repodata/repomd.xml"}, 200, []string{"<repomd"}, nil},
		{"deb InRelease still served", req{path: "/deb/5.8/debian/dists/bookworm/InRelease"}, 200, []string{"Suite: bookworm"}, nil},
		{"deb alias still served", req{path: "/deb/5.8/dists/bookworm/InRelease"}, 200, []string{"Suite: bookworm"}, nil},
		{"deb alias has no setup file", req{path: "/deb/5.8/dists/bookworm/pier.sources"}, 404, nil, []string{"Types"}},
		{"rpm file name on a deb target", req{path: "/rpm/5.8/debian/bookworm/pier.repo"}, 404, nil, []string{"["}},
		{"deb file name on an rpm target", req{path: "/deb/5.8/el/dists/9/pier.sources"}, 404, nil, []string{"Types"}},
		{"unpublished target", req{path: "/deb/5.8/debian/dists/trixie/pier.sources"}, 404, nil, []string{"Types"}},
		{"unknown target", req{path: "/rpm/9.9/el/9/pier.repo"}, 404, nil, nil},
		{"unknown distro", req{path: "/apk/5.8/alpine/v3.20/pier.repositories"}, 404, nil, nil},
		{"invalid name", req{path: "/rpm/5.8/el/-9/pier.repo"}, 404, nil, nil},
		{"private, no token", req{path: "/rpm/secret/el/9/pier.repo"}, 401, nil, []string{"["}},
		{"private, no token, missing target", req{path: "/rpm/secret/el/10/pier.repo"}, 401, nil, nil},
		{"private, token without read", req{path: "/deb/secret/debian/dists/bookworm/pier.sources", basic: other}, 403, nil, []string{"Types"}},
		{"private, read token", req{path: "/deb/secret/debian/dists/bookworm/pier.sources", basic: reader}, 200,
			[]string{"# Private: apt sends a token with read on secret/debian/bookworm", "Suites: bookworm"}, []string{reader}},
		{"private rpm, read token", req{path: "/rpm/secret/el/9/pier-secret-el-9.repo", bearer: reader}, 200,
			[]string{"# Private: dnf sends", "gpgkey=https://pier.example.org/keys/pier.asc\n"}, []string{reader, "password=" + reader}},
		{"private, read token, missing target", req{path: "/rpm/secret/el/10/pier.repo", basic: reader}, 404, nil, nil},
	} {
		c.r.method = "GET"
		w := e.do(c.r)
		body := w.Body.String()
		if w.Code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, w.Code, body, c.want)
			continue
		}
		for _, s := range c.has {
			if !strings.Contains(body, s) {
				t.Errorf("%s: the reply lacks %q:\n%s", c.name, s, body)
			}
		}
		for _, s := range c.lack {
			if strings.Contains(body, s) {
				t.Errorf("%s: the reply shows %q:\n%s", c.name, s, body)
			}
		}
		if c.want == 200 && strings.HasSuffix(c.r.path, "pier.repo") || strings.HasSuffix(c.r.path, "pier.sources") && c.want == 200 {
			if ct := w.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("%s: Content-Type %q", c.name, ct)
			}
			cc := w.Header().Get("Cache-Control")
			if strings.Contains(c.r.path, "secret") != (cc == "private, no-cache") || !strings.HasSuffix(cc, "no-cache") {
				t.Errorf("%s: Cache-Control %q", c.name, cc)
			}
			// HEAD answers the same headers without a body; the ETag
			// revalidates.
			h := e.do(req{method: "HEAD", path: c.r.path, basic: c.r.basic, bearer: c.r.bearer})
			if h.Code != 200 || h.Body.Len() != 0 || h.Header().Get("ETag") == "" || h.Header().Get("ETag") != w.Header().Get("ETag") {
				t.Errorf("%s: HEAD %d, %d bytes, ETag %q vs %q", c.name, h.Code, h.Body.Len(), h.Header().Get("ETag"), w.Header().Get("ETag"))
			}
			nm := e.do(req{method: "GET", path: c.r.path, basic: c.r.basic, bearer: c.r.bearer,
				hdr: map[string]string{"If-None-Match": w.Header().Get("ETag")}})
			if nm.Code != 304 {
				t.Errorf("%s: If-None-Match: %d, want 304", c.name, nm.Code)
			}
		}
	}
	// The deb file embeds exactly the served key ring.
	w := e.do(req{method: "GET", path: "/deb/5.8/debian/dists/bookworm/pier.sources"})
	key := e.do(req{method: "GET", path: "/keys/pier.asc"}).Body.String()
	var unfolded []string
	for _, l := range strings.Split(w.Body.String(), "\n") {
		if strings.HasPrefix(l, " ") {
			unfolded = append(unfolded, strings.TrimPrefix(strings.TrimPrefix(l, " "), "."))
		}
	}
	if strings.Join(unfolded, "\n")+"\n" != key || key == "" {
		t.Errorf("Signed-By of pier.sources is not /keys/pier.asc:\n%s\n--- key\n%s", w.Body, key)
	}
}
