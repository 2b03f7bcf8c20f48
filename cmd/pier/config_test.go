package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/api"
)

// TestConfigExample checks that config.example.yaml loads strictly and
// names every config key with a comment above it.
func TestConfigExample(t *testing.T) {
	if _, err := loadConfig("../../config.example.yaml"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	documented := map[string]bool{}
	for i, l := range lines {
		k, _, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok || strings.HasPrefix(k, "#") || strings.HasPrefix(k, "-") {
			continue
		}
		if i > 0 && strings.HasPrefix(strings.TrimSpace(lines[i-1]), "#") {
			documented[k] = true
		} else if strings.HasSuffix(strings.TrimSpace(l), ":") {
			documented[k] = true // a section: its keys carry the comments
		}
	}
	for _, k := range yamlKeys(reflect.TypeOf(Config{})) {
		if !documented[k] {
			t.Errorf("config key %q is not documented with a comment in config.example.yaml", k)
		}
	}
}

func yamlKeys(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, name)
		if f.Type.Kind() == reflect.Struct {
			out = append(out, yamlKeys(f.Type)...)
		}
	}
	return out
}

// TestConfigStrict: unknown keys and bad values are errors.
func TestConfigStrict(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, yaml string }{
		{"unknown key", "listen: 127.0.0.1:1\nlisten_port: 3\n"},
		{"unknown nested", "deb:\n  origin: X\n  colour: red\n"},
		{"bad size", "max_upload_size: lots\n"},
		{"bad format", "distros:\n  gentoo: ebuild\n"},
		{"bad level", "log_level: loud\n"},
	} {
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, []byte(c.yaml), 0o644)
		if _, err := loadConfig(p); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	p := filepath.Join(dir, "ok.yaml")
	os.WriteFile(p, []byte("max_upload_size: 3MiB\ndata_dir: /x\n"), 0o644)
	c, err := loadConfig(p)
	if err != nil || c.MaxUploadSize != 3<<20 || c.DataDir != "/x" || c.Listen != "127.0.0.1:8080" {
		t.Errorf("ok config: %v %+v", err, c)
	}
}

// TestMirrorConfig decodes the mirror entry shape users write (the s3
// keys inline) and rejects bad entries.
func TestMirrorConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.yaml")
	os.WriteFile(p, []byte(`mirrors:
  - name: bucket            # type dir takes path: instead of the s3 keys
    type: s3
    bucket: pier-mirror
    prefix: ""
    endpoint: http://127.0.0.1:7070
    region: us-east-1
    path_style: true
    targets: ["*/*/*"]
  - name: www
    type: dir
    path: /srv/www
`), 0o644)
	c, err := loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Mirrors[0]
	if m.Name != "bucket" || m.S3.Bucket != "pier-mirror" || !m.S3.PathStyle || m.S3.Endpoint != "http://127.0.0.1:7070" ||
		m.Grace.String() != "1h0m0s" || c.Mirrors[1].Path != "/srv/www" {
		t.Errorf("decoded %+v", c.Mirrors)
	}
	for _, bad := range []string{
		"mirrors:\n  - name: x\n    type: ftp\n",
		"mirrors:\n  - name: x\n    type: dir\n",
		"mirrors:\n  - name: X!\n    type: dir\n    path: /x\n",
		"mirrors:\n  - name: x\n    type: dir\n    path: /x\n    targets: [\"5.8\"]\n",
		"mirrors:\n  - name: x\n    type: dir\n    path: /x\n  - name: x\n    type: dir\n    path: /y\n",
		"mirrors:\n  - name: x\n    type: dir\n    path: /x\n    colour: red\n",
		"mirrors:\n  - name: x\n    type: dir\n    path: /x\n    cache_control:\n      roots: x\n",
	} {
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := loadConfig(p); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}

// TestServerConfig: the server section decodes into api.Limits with the
// defaults for unset keys, 0 turns the body rate off, -1 a cap, and bad
// values are refused.
func TestServerConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s.yaml")
	for _, c := range []struct {
		yaml string
		want api.Limits
	}{
		{"", api.Limits{ReadHeaderTimeout: api.DefaultReadHeaderTimeout, IdleTimeout: api.DefaultIdleTimeout,
			WriteTimeout: api.DefaultWriteTimeout, BodyMinRate: api.DefaultBodyMinRate, BodyRateWindow: api.DefaultBodyRateWindow,
			MaxConnections: api.DefaultMaxConnections, MaxUploadsPerToken: api.DefaultMaxUploadsPerToken,
			MaxUploadsPerClient: api.DefaultMaxUploadsPerClient}},
		{"server:\n  idle_timeout: 2s\n  body_min_rate: 0\n  max_connections: -1\n  max_uploads_per_client: 2\n",
			api.Limits{ReadHeaderTimeout: api.DefaultReadHeaderTimeout, IdleTimeout: 2 * time.Second,
				WriteTimeout: api.DefaultWriteTimeout, BodyMinRate: -1, BodyRateWindow: api.DefaultBodyRateWindow,
				MaxConnections: -1, MaxUploadsPerToken: api.DefaultMaxUploadsPerToken, MaxUploadsPerClient: 2}},
		{"server:\n  body_min_rate: 10KiB\n  body_rate_window: 5s\n",
			api.Limits{ReadHeaderTimeout: api.DefaultReadHeaderTimeout, IdleTimeout: api.DefaultIdleTimeout,
				WriteTimeout: api.DefaultWriteTimeout, BodyMinRate: 10 << 10, BodyRateWindow: 5 * time.Second,
				MaxConnections: api.DefaultMaxConnections, MaxUploadsPerToken: api.DefaultMaxUploadsPerToken,
				MaxUploadsPerClient: api.DefaultMaxUploadsPerClient}},
	} {
		os.WriteFile(p, []byte(c.yaml), 0o644)
		cfg, err := loadConfig(p)
		if err != nil {
			t.Errorf("%q: %v", c.yaml, err)
			continue
		}
		if got := cfg.Server.limits(); got != c.want {
			t.Errorf("%q:\n got %+v\nwant %+v", c.yaml, got, c.want)
		}
	}
	for _, bad := range []string{
		"server:\n  idle_timeout: -1s\n",
		"server:\n  max_connections: -2\n",
		"server:\n  max_uploads_per_token: -5\n",
		"server:\n  body_min_rate: fast\n",
		"server:\n  idle: 1s\n",
	} {
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := loadConfig(p); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}
