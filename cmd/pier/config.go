package main

import (
	"fmt"
	"net"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/apk"
	"github.com/pierhq/pier/repo/deb"
	"github.com/pierhq/pier/repo/mirror"
	"github.com/pierhq/pier/repo/rpm"
	"github.com/pierhq/pier/storage/s3"
)

// Config is pier's configuration file. Every key is documented in
// config.example.yaml; unknown keys are errors.
type Config struct {
	// DataDir holds the catalog, blobs, keys and the generated admin token.
	DataDir string `yaml:"data_dir"`
	// Listen is the HTTP listen address.
	Listen string `yaml:"listen"`
	// PublicURL is how clients reach Pier (used in setup snippets).
	PublicURL string `yaml:"public_url"`
	// MaxUploadSize is the largest accepted package, e.g. 2GiB.
	MaxUploadSize ByteSize `yaml:"max_upload_size"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`

	// Server bounds connections, slow clients and concurrent uploads.
	Server ServerConfig `yaml:"server"`

	Storage StorageConfig     `yaml:"storage"`
	Catalog CatalogConfig     `yaml:"catalog"`
	Mirrors []MirrorConfig    `yaml:"mirrors"`
	Auth    AuthConfig        `yaml:"auth"`
	Signing SigningConfig     `yaml:"signing"`
	Publish PublishConfig     `yaml:"publish"`
	Distros map[string]string `yaml:"distros"`
	Deb     deb.Config        `yaml:"deb"`
	RPM     rpm.Config        `yaml:"rpm"`
	APK     apk.Config        `yaml:"apk"`

	// Retention prunes old versions at publish and collects unreferenced
	// blobs.
	Retention RetentionConfig `yaml:"retention"`

	// TLS serves HTTPS directly.
	TLS TLSConfig `yaml:"tls"`
	// Targets restricts which targets uploads may create.
	Targets TargetsConfig `yaml:"targets"`
	// Uploaders require .changes uploads to some targets to be signed by
	// given keys (see UploaderConfig).
	Uploaders []UploaderConfig `yaml:"uploaders"`

	// explicitDataDir records that the file set data_dir.
	explicitDataDir bool
}

// ServerConfig bounds what one client can hold of pier serve: timeouts of
// idle and slow connections, the slowest accepted request body, open
// connections and concurrent uploads (see api.Limits). Unset keys take
// the defaults; -1 turns a cap off.
type ServerConfig struct {
	// ReadHeaderTimeout is how long a client has to send its headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// WriteTimeout is how long one response write may block on a client
	// that does not read (extended as data flows).
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// BodyMinRate is the slowest accepted request body, bytes per second
	// over BodyRateWindow; 0 turns it off, unset is 1KiB.
	BodyMinRate *ByteSize `yaml:"body_min_rate"`
	// BodyRateWindow is the period over which BodyMinRate is measured.
	BodyRateWindow time.Duration `yaml:"body_rate_window"`
	// MaxConnections caps the open connections (-1: no cap).
	MaxConnections int `yaml:"max_connections"`
	// MaxUploadsPerToken caps one token's concurrent uploads (-1: no cap).
	MaxUploadsPerToken int `yaml:"max_uploads_per_token"`
	// MaxUploadsPerClient caps one client address's concurrent uploads
	// (-1: no cap).
	MaxUploadsPerClient int `yaml:"max_uploads_per_client"`
	// PprofListen, when set (e.g. 127.0.0.1:6060), serves Go's runtime
	// profiles (net/http/pprof) on that address for diagnosing a slow
	// server; off by default. The listener has no authentication: keep
	// it on loopback.
	PprofListen string `yaml:"pprof_listen"`
}

// limits returns the api.Limits the section configures, defaulted.
func (sc ServerConfig) limits() api.Limits {
	l := api.Limits{ReadHeaderTimeout: sc.ReadHeaderTimeout, IdleTimeout: sc.IdleTimeout, WriteTimeout: sc.WriteTimeout,
		BodyRateWindow: sc.BodyRateWindow, MaxConnections: sc.MaxConnections, MaxUploadsPerToken: sc.MaxUploadsPerToken,
		MaxUploadsPerClient: sc.MaxUploadsPerClient}
	if sc.BodyMinRate != nil {
		l.BodyMinRate = int64(*sc.BodyMinRate)
		if l.BodyMinRate == 0 {
			l.BodyMinRate = -1
		}
	}
	l.Defaults()
	return l
}

func (sc ServerConfig) validate() error {
	l := sc.limits()
	if err := l.Validate(); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// StorageConfig says where package and index blobs live. The catalog, keys
// and uploads in progress stay in the data directory either way.
type StorageConfig struct {
	// Type is "local" (<data_dir>/blobs) or "s3".
	Type string `yaml:"type"`
	// S3 configures the bucket when Type is "s3".
	S3 s3.Config `yaml:"s3"`
}

// MirrorConfig is one sync destination: an S3 bucket (the s3 keys inline)
// or a directory, holding the same paths Pier serves.
type MirrorConfig struct {
	// Name identifies the mirror in `pier sync NAME` and the logs.
	Name string `yaml:"name"`
	// Type is "s3" or "dir".
	Type string `yaml:"type"`
	// Path is the directory of a "dir" mirror.
	Path string `yaml:"path"`
	// Targets are stream/distro/release glob patterns ("*/*/*" for all).
	Targets []string `yaml:"targets"`
	// Grace is how long objects no retained generation names stay before
	// a sync deletes them.
	Grace time.Duration `yaml:"grace"`
	// CacheControl sets the Cache-Control of objects by kind: package,
	// hashed (by-hash, checksum-named repodata), index (plain indexes),
	// root (InRelease, repomd.xml, APKINDEX.tar.gz …).
	CacheControl map[string]string `yaml:"cache_control"`
	// S3 holds the bucket settings of an "s3" mirror, written inline.
	S3 s3.Config `yaml:",inline"`
}

var mirrorNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func (m *MirrorConfig) validate() error {
	if !mirrorNameRE.MatchString(m.Name) {
		return fmt.Errorf("mirror name %q must be lower-case letters, digits, - or _", m.Name)
	}
	if m.Grace == 0 {
		m.Grace = time.Hour
	}
	for _, p := range m.Targets {
		if _, err := path.Match(p, "s/d/r"); err != nil || strings.Count(p, "/") != 2 {
			return fmt.Errorf("mirror %s: target pattern %q must be stream/distro/release globs", m.Name, p)
		}
	}
	for k := range m.CacheControl {
		if !slices.Contains(mirror.KindNames, k) {
			return fmt.Errorf("mirror %s: cache_control key %q must be one of %v", m.Name, k, mirror.KindNames)
		}
	}
	switch m.Type {
	case "dir":
		if m.Path == "" {
			return fmt.Errorf("mirror %s: type dir needs path", m.Name)
		}
	case "s3":
		m.S3.Defaults()
		if err := m.S3.Validate(); err != nil {
			return fmt.Errorf("mirror %s: %w", m.Name, err)
		}
	default:
		return fmt.Errorf("mirror %s: type %q must be s3 or dir", m.Name, m.Type)
	}
	return nil
}

// AuthConfig says where the admin token and the other configured tokens
// come from, which targets are private, and how failed attempts are
// limited. Tokens made with `pier token create` live in the catalog.
type AuthConfig struct {
	// AdminTokenFile is a file holding the admin token. PIER_ADMIN_TOKEN
	// overrides it; when neither is set, pier generates a token in the data
	// directory.
	AdminTokenFile string `yaml:"admin_token_file"`
	// Tokens are API tokens for simple setups, their values taken from the
	// environment or a file.
	Tokens []TokenConfig `yaml:"tokens"`
	// Private are stream/distro/release patterns of the targets whose
	// files need a token with read on them.
	Private []string `yaml:"private"`
	// RateLimit limits failed authentication attempts per client address.
	RateLimit RateLimitConfig `yaml:"rate_limit"`
	// TrustedProxies are addresses or CIDR ranges of reverse proxies whose
	// X-Forwarded-For names the client (for rate limits and the audit log)
	// and whose X-Forwarded-Proto and X-Forwarded-Host make the URLs Pier
	// writes (setup snippets) when public_url is not set.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// TokenConfig is one token named in the config.
type TokenConfig struct {
	// Name is who the audit log says acted.
	Name string `yaml:"name"`
	// TokenEnv is the environment variable holding the token.
	TokenEnv string `yaml:"token_env"`
	// TokenFile is the file holding the token (first line); one of
	// TokenEnv and TokenFile is set.
	TokenFile string `yaml:"token_file"`
	// Scopes are what the token may do, e.g. "upload:5.8/*/*".
	Scopes []string `yaml:"scopes"`
}

// RateLimitConfig limits failed authentication attempts per address.
type RateLimitConfig struct {
	// Failures is how many failed attempts an address may make in a row;
	// after that it regains one every Window/Failures and is answered 429
	// meanwhile. -1 turns the limit off.
	Failures int `yaml:"failures"`
	// Window is the time over which Failures attempts are regained.
	Window time.Duration `yaml:"window"`
}

func (a *AuthConfig) defaults() {
	if a.RateLimit.Failures == 0 {
		a.RateLimit.Failures = auth.DefaultFailures
	}
	if a.RateLimit.Window == 0 {
		a.RateLimit.Window = auth.DefaultWindow
	}
}

func (a *AuthConfig) validate() error {
	seen := map[string]bool{auth.AdminName: true}
	for _, t := range a.Tokens {
		if err := auth.ValidateName(t.Name); err != nil {
			return fmt.Errorf("auth.tokens: %w", err)
		}
		if seen[t.Name] {
			return fmt.Errorf("auth.tokens: the name %q is taken (admin is the admin token's)", t.Name)
		}
		seen[t.Name] = true
		if (t.TokenEnv == "") == (t.TokenFile == "") {
			return fmt.Errorf("auth.tokens: %s needs exactly one of token_env and token_file", t.Name)
		}
		if _, err := auth.ParseScopes(t.Scopes); err != nil {
			return fmt.Errorf("auth.tokens: %s: %w", t.Name, err)
		}
	}
	for _, p := range a.Private {
		if err := auth.ValidatePattern(p); err != nil {
			return fmt.Errorf("auth.private: %w", err)
		}
	}
	if a.RateLimit.Failures < -1 || a.RateLimit.Window < 0 {
		return fmt.Errorf("auth.rate_limit: failures must be -1 (off) or more, window positive")
	}
	if _, err := a.trustedProxies(); err != nil {
		return err
	}
	return nil
}

// trustedProxies parses TrustedProxies (an address is a /32 or /128).
func (a *AuthConfig) trustedProxies() ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, p := range a.TrustedProxies {
		if ip := net.ParseIP(p); ip != nil {
			bits := 8 * len(ip.To16())
			if ip.To4() != nil {
				ip, bits = ip.To4(), 32
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			return nil, fmt.Errorf("auth.trusted_proxies: %q is neither an address nor a CIDR range", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// SigningConfig says which OpenPGP keys sign the repositories. Every key
// of the ring signs every root: key_file, then key_files, then each private
// key in <data_dir>/keys (oldest first); the first is the primary.
type SigningConfig struct {
	// KeyFile is an armored OpenPGP private key. When no key is configured
	// and <data_dir>/keys holds none, one is generated on first start.
	KeyFile string `yaml:"key_file"`
	// KeyFiles are more armored private keys that sign too (key rotation).
	KeyFiles []string `yaml:"key_files"`
	// PassphraseFile holds the passphrase of encrypted keys, if any.
	// PIER_SIGNING_PASSPHRASE overrides it.
	PassphraseFile string `yaml:"passphrase_file"`
	// APKKeyName names the RSA key that signs APKINDEX files, kept in
	// <data_dir>/keys/<name>.rsa(.pub) and generated on first start. Empty
	// means "pier-<hex time of creation>". Clients install the public key
	// as /etc/apk/keys/<name>.rsa.pub.
	APKKeyName string `yaml:"apk_key_name"`
}

// PublishConfig tunes publishing.
type PublishConfig struct {
	// Delay is how long an upload waits for more uploads to the same target
	// before the publish it triggers runs.
	Delay time.Duration `yaml:"delay"`
	// KeepGenerations is how many generations per target stay servable.
	KeepGenerations int `yaml:"keep_generations"`
	// PackageCache bounds the memory that keeps package rows between
	// publishes; unset means 256MiB, 0 disables the cache.
	PackageCache *ByteSize `yaml:"package_cache"`
	// Retry is the first wait before pier serve retries a failed publish;
	// it doubles with each failure in a row, up to 5 minutes. Default 5s.
	Retry time.Duration `yaml:"retry"`
}

// RetentionConfig says which package versions each target keeps and how
// unreferenced blobs are collected.
type RetentionConfig struct {
	// Rules apply to the targets matching their patterns; the first match
	// wins. Targets no rule matches keep every version.
	Rules []repo.RetentionRule `yaml:"rules"`
	// GCInterval is how often pier serve deletes blobs that no package and
	// no retained generation references (0 disables; pier gc runs it once).
	GCInterval time.Duration `yaml:"gc_interval"`
	// GCGrace spares unreferenced blobs written less than this long ago.
	GCGrace time.Duration `yaml:"gc_grace"`
}

// defaultDistros maps distro names to formats.
var defaultDistros = map[string]string{
	"debian": "deb", "ubuntu": "deb",
	"el": "rpm", "fedora": "rpm", "opensuse": "rpm", "sles": "rpm", "amzn": "rpm",
	"alpine": "apk",
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.DataDir == "" {
		c.DataDir = "./pier-data"
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.MaxUploadSize == 0 {
		c.MaxUploadSize = 2 << 30
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Publish.Delay == 0 {
		c.Publish.Delay = 250 * time.Millisecond
	}
	if c.Publish.KeepGenerations == 0 {
		c.Publish.KeepGenerations = 3
	}
	if c.Retention.GCInterval == 0 {
		c.Retention.GCInterval = time.Hour
	}
	if c.Retention.GCGrace == 0 {
		c.Retention.GCGrace = time.Hour
	}
	if c.Distros == nil {
		c.Distros = map[string]string{}
	}
	for d, f := range defaultDistros {
		if _, ok := c.Distros[d]; !ok {
			c.Distros[d] = f
		}
	}
	if c.Storage.Type == "" {
		c.Storage.Type = "local"
	}
	if c.Storage.Type == "s3" {
		c.Storage.S3.Defaults()
	}
	c.Deb.Defaults()
	c.RPM.Defaults()
	c.APK.Defaults()
	c.Auth.defaults()
}

// Validate checks the config after Defaults.
func (c *Config) Validate() error {
	if c.MaxUploadSize < 0 {
		return fmt.Errorf("max_upload_size must be positive")
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		return fmt.Errorf("public_url %q must start with http:// or https://", c.PublicURL)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q must be debug, info, warn or error", c.LogLevel)
	}
	if c.Publish.Delay < 0 || c.Publish.KeepGenerations < 1 {
		return fmt.Errorf("publish.delay must be >= 0 and publish.keep_generations >= 1")
	}
	for i, r := range c.Retention.Rules {
		if len(r.Targets) == 0 {
			return fmt.Errorf("retention.rules[%d]: targets is empty", i)
		}
		for _, p := range r.Targets {
			if err := repo.ValidatePattern(p); err != nil {
				return fmt.Errorf("retention.rules[%d]: %w", i, err)
			}
		}
		if r.KeepVersions < 0 || r.KeepDays < 0 {
			return fmt.Errorf("retention.rules[%d]: keep_versions and keep_days must be >= 0", i)
		}
	}
	if err := validateUploaders(c.Uploaders); err != nil {
		return err
	}
	if c.Retention.GCInterval < 0 || c.Retention.GCGrace < 0 {
		return fmt.Errorf("retention.gc_interval and retention.gc_grace must be >= 0")
	}
	for d, f := range c.Distros {
		if f != "deb" && f != "rpm" && f != "apk" {
			return fmt.Errorf("distros.%s: unknown format %q (known: deb, rpm, apk)", d, f)
		}
	}
	switch c.Storage.Type {
	case "local":
	case "s3":
		if err := c.Storage.S3.Validate(); err != nil {
			return fmt.Errorf("storage.s3: %w", err)
		}
	default:
		return fmt.Errorf("storage.type %q must be local or s3", c.Storage.Type)
	}
	if err := c.Catalog.validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range c.Mirrors {
		if err := c.Mirrors[i].validate(); err != nil {
			return err
		}
		if seen[c.Mirrors[i].Name] {
			return fmt.Errorf("two mirrors are named %q", c.Mirrors[i].Name)
		}
		seen[c.Mirrors[i].Name] = true
	}
	if err := c.Auth.validate(); err != nil {
		return err
	}
	if err := c.Server.validate(); err != nil {
		return err
	}
	if err := c.Deb.Validate(); err != nil {
		return fmt.Errorf("deb: %w", err)
	}
	if err := c.RPM.Validate(); err != nil {
		return fmt.Errorf("rpm: %w", err)
	}
	if err := c.APK.Validate(); err != nil {
		return fmt.Errorf("apk: %w", err)
	}
	if err := c.TLS.validate(); err != nil {
		return err
	}
	if err := c.Targets.validate(); err != nil {
		return err
	}
	return nil
}

// loadConfig reads path (if not empty) strictly, then applies defaults and
// validates. Errors name the file, the key and what it wants in YAML terms.
func loadConfig(path string) (*Config, error) {
	var c Config
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if err := decodeStrict(data, &c); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	c.explicitDataDir = c.DataDir != ""
	c.Defaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &c, nil
}

// ByteSize is a size in bytes that YAML may write as a number or with a
// unit: 2GiB, 500MiB, 100MB, 1024.
type ByteSize int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = ByteSize(v)
	return nil
}

func parseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes, optionally with KiB, MiB, GiB, KB, MB or GB", s)
	}
	return n * mult, nil
}
