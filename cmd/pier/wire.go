package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/metrics"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/apk"
	"github.com/pierhq/pier/repo/catalog"
	"github.com/pierhq/pier/repo/deb"
	"github.com/pierhq/pier/repo/mirror"
	"github.com/pierhq/pier/repo/rpm"
	"github.com/pierhq/pier/storage"
	"github.com/pierhq/pier/storage/local"
	"github.com/pierhq/pier/storage/s3"
)

// openApp loads the config of cmd and wires the app on its data
// directory, which must exist: the commands that work beside (or without)
// pier serve never create one, nor a signing key.
func (c *cli) openApp(ctx context.Context, cmd *cobra.Command, log *slog.Logger) (*app, error) {
	cfg, _, err := c.loadExisting(cmd)
	if err != nil {
		return nil, err
	}
	return open(ctx, cfg, log, false)
}

// app is everything a command needs, wired from a config.
type app struct {
	cfg *Config
	log *slog.Logger
	cat catalog.Store
	// keys are the signing keys in force (a reload swaps them); the
	// service signs through it.
	keys    *signerRef
	mirrors *mirror.Manager // pier serve only
	metrics *metrics.Metrics
	svc     *repo.Service
	backend storage.Backend
}

// closeGrace bounds how long closing the app waits for running publishes
// before it cancels them (pier serve's unit gives 45 s to stop, 30 of them
// to requests in flight).
const closeGrace = 10 * time.Second

func (a *app) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	if err := a.svc.Close(ctx); err != nil {
		a.log.Warn("shutdown", "err", err)
	}
	a.cat.Close()
}

// newLogger returns a logger writing to w: format "text", "json", or
// "auto" (text on a terminal, JSON otherwise).
func newLogger(w io.Writer, level string, format ...string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	f := "text"
	if len(format) > 0 {
		f = format[0]
	}
	if f == "auto" {
		f = "json"
		if file, ok := w.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
			f = "text"
		}
	}
	if f == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// open wires catalog, blob store, signing key, formats and the service on
// cfg.DataDir. With create (pier serve, pier init) it creates the data
// directory and generates the keys it lacks; without, the directory must
// hold them already.
func open(ctx context.Context, cfg *Config, log *slog.Logger, create bool) (*app, error) {
	dir := cfg.DataDir
	if create {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
	} else if cfg.Catalog.kind() != "postgres" {
		if err := haveKeys(cfg); err != nil {
			return nil, err
		}
	}
	// One clock for everything Pier writes times with: the service's and
	// the catalog's.
	now := testClock(log)
	cat, err := openCatalog(ctx, cfg, now, log)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, cat: cat, metrics: metrics.New(), keys: &signerRef{}}
	ok := false
	defer func() {
		if !ok {
			cat.Close()
		}
	}()
	generated, err := cat.shareKeys(ctx, cfg, create, log)
	if err != nil {
		return nil, err
	}
	if cat.pg != nil && !create {
		if err := haveKeys(cfg); err != nil {
			return nil, err
		}
	}
	if a.backend, err = openBackend(ctx, cfg); err != nil {
		return nil, err
	}
	ks, err := loadKeySet(cfg, create)
	if err != nil {
		return nil, err
	}
	ks.created = ks.created || generated
	a.keys.cur.Store(ks)
	formats := formatsFor(cfg, ks)
	opts := repo.Options{
		TmpDir:            filepath.Join(dir, "tmp"),
		LockDir:           filepath.Join(dir, "locks"),
		Locker:            cat.locker,
		Node:              nodeName(cfg),
		FollowCatalog:     cat.pg != nil,
		MaxUploadSize:     int64(cfg.MaxUploadSize),
		PublishDelay:      cfg.Publish.Delay,
		KeepGenerations:   cfg.Publish.KeepGenerations,
		PackageCacheBytes: packageCacheBytes(cfg.Publish.PackageCache),
		PublishRetry:      cfg.Publish.Retry,
		GCInterval:        cfg.Retention.GCInterval,
		GCGrace:           cfg.Retention.GCGrace,
		Hook:              crashHook(),
		Now:               now,
		OnChange: func() {
			if a.mirrors != nil {
				a.mirrors.Trigger()
			}
		},
	}
	opts.Observer = a.metrics
	// The service gets the catalog itself, so that it finds the optional
	// powers of the implementation (repo.PublishLog on PostgreSQL).
	a.svc, err = repo.NewService(cat.Store, repo.NewBlobs(a.backend), metrics.Signer{Signer: a.keys, M: a.metrics}, formats, opts, log)
	if err != nil {
		return nil, err
	}
	if err := a.svc.SetRetention(cfg.Retention.Rules); err != nil {
		return nil, err
	}
	ok = true
	return a, nil
}

// packageCacheBytes maps publish.package_cache to repo.Options: unset is the
// service's default, 0 disables.
func packageCacheBytes(b *ByteSize) int64 {
	switch {
	case b == nil:
		return 0
	case *b == 0:
		return -1
	default:
		return int64(*b)
	}
}

// openBackend opens the blob store the config names.
func openBackend(ctx context.Context, cfg *Config) (storage.Backend, error) {
	if cfg.Storage.Type != "s3" {
		return local.New(filepath.Join(cfg.DataDir, "blobs"))
	}
	b, err := s3.New(ctx, cfg.Storage.S3)
	if err != nil {
		return nil, err
	}
	if err := b.Check(ctx); err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return b, nil
}

// formatsFor wires the formats cfg configures, with the keys of ks.
func formatsFor(cfg *Config, ks *keySet) []repo.FormatSpec {
	return []repo.FormatSpec{
		{Format: deb.New(cfg.Deb), Digests: deb.Digests, Distros: distrosOf(cfg, "deb")},
		{Format: rpm.New(cfg.RPM).WithSigningKey(ks.pgp.PrivateKey()), Digests: rpm.Digests, Distros: distrosOf(cfg, "rpm")},
		{Format: apk.New(cfg.APK, ks.apk), Digests: apk.Digests, Distros: distrosOf(cfg, "apk")},
	}
}

func distrosOf(cfg *Config, format string) []string {
	var out []string
	for d, f := range cfg.Distros {
		if f == format {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// secret reads a secret from env var env, else from file (trimmed).
func secret(env, file string) (string, error) {
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	if file == "" {
		return "", nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// adminToken returns the admin token: PIER_ADMIN_TOKEN, else the configured
// file, else <data>/admin.token, generated (mode 0600) on first use. path is
// where it lives ("" for env).
func adminToken(cfg *Config) (token, path string, created bool, err error) {
	if v := os.Getenv("PIER_ADMIN_TOKEN"); v != "" {
		return v, "", false, nil
	}
	if cfg.Auth.AdminTokenFile != "" {
		t, err := secret("", cfg.Auth.AdminTokenFile)
		if err == nil && t == "" {
			err = fmt.Errorf("admin token file %s is empty", cfg.Auth.AdminTokenFile)
		}
		return t, cfg.Auth.AdminTokenFile, false, err
	}
	path = filepath.Join(cfg.DataDir, "admin.token")
	if data, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(data)), path, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", "", false, fmt.Errorf("read admin token: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", false, err
	}
	token = "pier_" + hex.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return adminToken(cfg)
	}
	if err != nil {
		return "", "", false, fmt.Errorf("create admin token: %w", err)
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		f.Close()
		return "", "", false, fmt.Errorf("write admin token: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", "", false, fmt.Errorf("write admin token: %w", err)
	}
	return token, path, true, f.Close()
}

// ready is what /readyz checks: the catalog answers, the blob store takes a
// write, the keys are loaded.
func (a *app) ready(ctx context.Context) error {
	if err := a.cat.Ping(ctx); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	key := fmt.Sprintf("readyz/probe-%d", os.Getpid())
	if err := a.backend.Put(ctx, key, strings.NewReader("ok"), 2, storage.PutOptions{}); err != nil {
		return fmt.Errorf("blob store is not writable: %w", err)
	}
	if err := a.backend.Delete(ctx, key); err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	if ks := a.keys.cur.Load(); ks == nil || ks.pgp == nil || ks.apk == nil {
		return fmt.Errorf("signing keys are not loaded")
	}
	// Degraded while a publish keeps failing: acknowledged uploads are not
	// reaching clients (the reconciler keeps retrying).
	failing, err := a.svc.Failing(ctx, 3, time.Minute)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if len(failing) > 0 {
		ti := failing[0]
		return fmt.Errorf("degraded: publishes of %d target(s) keep failing; %s since %s (%d attempts): %s",
			len(failing), ti.Target, ti.FailingSince.Format(time.RFC3339), ti.PublishFailures, ti.PublishError)
	}
	return nil
}

// keyFiles are the public keys of ks served under /keys/.
func keyFiles(ks *keySet) []api.KeyFile {
	return []api.KeyFile{
		{Name: "pier.asc", ContentType: "application/pgp-keys", Data: ks.pgp.PublicKey()},
		{Name: "pier.gpg", ContentType: "application/octet-stream", Data: ks.pgp.PublicKeyBinary()},
		{Name: ks.apk.KeyName(), ContentType: "application/x-pem-file", Data: ks.apk.PublicPEM()},
	}
}
