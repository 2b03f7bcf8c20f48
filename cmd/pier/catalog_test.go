package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/pgtest"
	"github.com/pierhq/pier/signing"
)

// TestCatalogConfig: the type defaults to sqlite, or postgres when
// PIER_DATABASE_URL is set; the DSN comes from the environment, else the
// file, else the config; contradictions are refused.
func TestCatalogConfig(t *testing.T) {
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	os.WriteFile(dsnFile, []byte("postgres://file/db\n"), 0o600)
	for _, c := range []struct {
		name    string
		cfg     CatalogConfig
		env     string
		kind    string
		dsn     string
		invalid string
	}{
		{name: "default", kind: "sqlite"},
		{name: "env selects postgres", env: "postgres://env/db", kind: "postgres", dsn: "postgres://env/db"},
		{name: "sqlite with a dsn", cfg: CatalogConfig{Type: "sqlite", DSN: "x"}, invalid: "for type postgres"},
		{name: "postgres without dsn", cfg: CatalogConfig{Type: "postgres"}, invalid: "needs dsn"},
		{name: "both dsn and file", cfg: CatalogConfig{Type: "postgres", DSN: "a", DSNFile: dsnFile}, invalid: "not both"},
		{name: "unknown type", cfg: CatalogConfig{Type: "mysql"}, invalid: "must be sqlite or postgres"},
		{name: "dsn", cfg: CatalogConfig{Type: "postgres", DSN: "postgres://cfg/db"}, kind: "postgres", dsn: "postgres://cfg/db"},
		{name: "dsn file", cfg: CatalogConfig{Type: "postgres", DSNFile: dsnFile}, kind: "postgres", dsn: "postgres://file/db"},
		{name: "env over file", cfg: CatalogConfig{Type: "postgres", DSNFile: dsnFile}, env: "postgres://env/db", kind: "postgres",
			dsn: "postgres://env/db"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(databaseURLEnv, c.env)
			err := c.cfg.validate()
			if c.invalid != "" {
				if err == nil || !strings.Contains(err.Error(), c.invalid) {
					t.Fatalf("validate: %v, want %q", err, c.invalid)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k := c.cfg.kind(); k != c.kind {
				t.Errorf("kind %s, want %s", k, c.kind)
			}
			if c.kind == "postgres" {
				if d, err := c.cfg.dsn(); err != nil || d != c.dsn {
					t.Errorf("dsn %q %v, want %q", d, err, c.dsn)
				}
			}
		})
	}
}

// TestKeyEncryption: a key stored encrypted comes back with the right
// passphrase only.
func TestKeyEncryption(t *testing.T) {
	secret := []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\nxyz\n")
	enc, err := encryptKey(secret, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc, []byte("PRIVATE KEY")) {
		t.Fatal("the encrypted key holds the plain text")
	}
	if got, err := decryptKey(enc, "correct horse"); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("decrypt: %q %v", got, err)
	}
	if _, err := decryptKey(enc, "wrong"); err == nil {
		t.Error("a wrong passphrase decrypted the key")
	}
}

// TestClusterKeyFile: which files of the key directory the cluster shares.
func TestClusterKeyFile(t *testing.T) {
	for name, want := range map[string]bool{
		"pier-signing.asc": true, "pier-signing-0123456789abcdef.asc": true, "pier-65f0a1b2.rsa": true,
		"pier-65f0a1b2.rsa.pub": true, "retired/old.asc": true, "signed-with": false, ".x.tmp": false,
		"retired/x.rsa": false, "a/b.asc": false, "pier-signing.asc.tmp": false,
	} {
		if got := clusterKeyFile(name); got != want {
			t.Errorf("clusterKeyFile(%q) = %v", name, got)
		}
	}
}

// TestSharedKeys: on a PostgreSQL catalog the first node generates the
// keys and stores them (encrypted with PIER_KEY_PASSPHRASE); a second node
// with an empty data directory signs with the same keys; a node without
// the passphrase, or with another, refuses to start; a key generated on
// one node (pier keys generate) reaches the other.
func TestSharedKeys(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	t.Setenv(databaseURLEnv, dsn)
	t.Setenv(keyPassphraseEnv, "s3cret")
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	node := func() *Config {
		cfg := &Config{DataDir: t.TempDir()}
		cfg.Defaults()
		cfg.Publish.Delay = 0
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	a, b := node(), node()
	appA, err := open(ctx, a, log, true)
	if err != nil {
		t.Fatal(err)
	}
	defer appA.Close()
	appB, err := open(ctx, b, log, true)
	if err != nil {
		t.Fatal(err)
	}
	defer appB.Close()
	ka, kb := appA.keys.set(), appB.keys.set()
	if !ka.created || kb.created {
		t.Errorf("generated: node a %v, node b %v; want only a", ka.created, kb.created)
	}
	if !bytes.Equal(ka.pgp.PublicKey(), kb.pgp.PublicKey()) || !bytes.Equal(ka.apk.PublicPEM(), kb.apk.PublicPEM()) ||
		ka.apk.KeyName() != kb.apk.KeyName() {
		t.Fatal("the two nodes sign with different keys")
	}
	if err := srv.Exec(ctx, pgtest.DatabaseOf(dsn), `DO $$ BEGIN IF EXISTS (SELECT 1 FROM cluster_keys WHERE NOT encrypted
		OR position('PRIVATE'::bytea in data) > 0) THEN RAISE EXCEPTION 'plain key stored'; END IF; END $$`); err != nil {
		t.Errorf("keys stored in the clear: %v", err)
	}
	for _, pass := range []string{"", "wrong"} {
		t.Setenv(keyPassphraseEnv, pass)
		if app, err := open(ctx, node(), log, true); err == nil {
			app.Close()
			t.Errorf("a node with passphrase %q started", pass)
		}
	}
	t.Setenv(keyPassphraseEnv, "s3cret")
	// pier keys generate on node b reaches node a's next start.
	var out, errOut bytes.Buffer
	if err := withClusterKeys(ctx, b, true, log, func() error {
		return keysGenerate(b, signing.Options{Name: "second", Bits: 2048}, &out, &errOut)
	}); err != nil {
		t.Fatal(err)
	}
	fpr := strings.TrimSpace(out.String())
	appA2, err := open(ctx, a, log, true)
	if err != nil {
		t.Fatal(err)
	}
	defer appA2.Close()
	if fps := appA2.keys.set().pgp.Fingerprints(); len(fps) != 2 || !strings.EqualFold(fps[1], fpr) && !strings.EqualFold(fps[0], fpr) {
		t.Errorf("node a's ring after node b generated %s: %v", fpr, fps)
	}
}

// TestDeployConfig: the cluster example's config (deploy/cluster) loads
// strictly and chooses PostgreSQL and S3.
func TestDeployConfig(t *testing.T) {
	t.Setenv(databaseURLEnv, "postgres://pier@db.internal/pier")
	cfg, err := loadConfig("../../deploy/cluster/pier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Catalog.kind() != "postgres" || cfg.Storage.Type != "s3" {
		t.Errorf("catalog %s, storage %s", cfg.Catalog.kind(), cfg.Storage.Type)
	}
}

// TestRequireDataDirPostgres: with a PostgreSQL catalog a node's data
// directory has no catalog.db and is still one (pier import, pier keys …
// work on it); with SQLite it must hold catalog.db.
func TestRequireDataDirPostgres(t *testing.T) {
	dir := t.TempDir()
	cfg := &Config{DataDir: dir}
	t.Setenv(databaseURLEnv, "")
	if err := requireDataDir(cfg, where{}); err == nil {
		t.Error("a SQLite data directory without catalog.db was accepted")
	}
	t.Setenv(databaseURLEnv, "postgres://pier@db/pier")
	if err := requireDataDir(cfg, where{}); err != nil {
		t.Errorf("a PostgreSQL node's data directory: %v", err)
	}
	cfg.DataDir = filepath.Join(dir, "missing")
	if err := requireDataDir(cfg, where{}); err == nil {
		t.Error("a missing data directory was accepted")
	}
}
