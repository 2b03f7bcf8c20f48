package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
	"github.com/pierhq/pier/repo/catalog/postgres"
	"github.com/pierhq/pier/repo/catalog/sqlite"
)

// CatalogConfig chooses the catalog database: SQLite in the data directory
// (the default: zero configuration, one node), or PostgreSQL, which
// several nodes share (with storage.type s3 they form a cluster: see
// docs/ARCHITECTURE.md, "Several nodes").
type CatalogConfig struct {
	// Type is "sqlite" or "postgres". Unset means sqlite, or postgres when
	// PIER_DATABASE_URL is set.
	Type string `yaml:"type"`
	// DSN is the PostgreSQL connection URL (postgres://user@host/db) or
	// key=value string. PIER_DATABASE_URL overrides it and DSNFile; keep
	// passwords out of the config file (DSNFile, the environment, or
	// PostgreSQL's own ~/.pgpass and PGPASSWORD).
	DSN string `yaml:"dsn"`
	// DSNFile is a file holding the DSN (first line), e.g. a secret mount.
	DSNFile string `yaml:"dsn_file"`
	// MaxConns bounds each node's pool of connections (0: the larger of 4
	// and the number of CPUs). Each node also holds one connection for its
	// locks.
	MaxConns int32 `yaml:"max_conns"`
}

// databaseURLEnv names the environment variable with the PostgreSQL DSN.
const databaseURLEnv = "PIER_DATABASE_URL"

// kind returns the catalog type in force: the configured one, else
// postgres when PIER_DATABASE_URL is set, else sqlite.
func (c *CatalogConfig) kind() string {
	if c.Type != "" {
		return c.Type
	}
	if os.Getenv(databaseURLEnv) != "" {
		return "postgres"
	}
	return "sqlite"
}

func (c *CatalogConfig) validate() error {
	switch c.Type {
	case "", "sqlite":
		if c.DSN != "" || c.DSNFile != "" {
			return fmt.Errorf("catalog: dsn and dsn_file are for type postgres")
		}
	case "postgres":
		if c.DSN != "" && c.DSNFile != "" {
			return fmt.Errorf("catalog: set one of dsn and dsn_file, not both")
		}
		if c.DSN == "" && c.DSNFile == "" && os.Getenv(databaseURLEnv) == "" {
			return fmt.Errorf("catalog: type postgres needs dsn, dsn_file or %s", databaseURLEnv)
		}
	default:
		return fmt.Errorf("catalog.type %q must be sqlite or postgres", c.Type)
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("catalog.max_conns must be >= 0")
	}
	return nil
}

// dsn returns the PostgreSQL DSN: PIER_DATABASE_URL, else dsn_file's
// first line, else dsn.
func (c *CatalogConfig) dsn() (string, error) {
	v, err := secret(databaseURLEnv, c.DSNFile)
	if err != nil {
		return "", fmt.Errorf("catalog.dsn_file: %w", err)
	}
	if v == "" {
		v = c.DSN
	}
	if v == "" {
		return "", fmt.Errorf("catalog: no PostgreSQL DSN (catalog.dsn, catalog.dsn_file or %s)", databaseURLEnv)
	}
	if i := strings.IndexByte(v, '\n'); i >= 0 {
		v = v[:i]
	}
	return v, nil
}

// openedCatalog is the catalog cmd opened and what comes with it: the
// locker that coordinates with other processes or nodes (nil: the data
// directory's flocks) and, on PostgreSQL, the handle for cluster state.
type openedCatalog struct {
	catalog.Store
	locker repo.Locker
	pg     *postgres.DB
	// closeLocks ends the lock session (PostgreSQL).
	closeLocks func() error
}

// Close closes the lock session and the catalog.
func (o *openedCatalog) Close() error {
	if o.closeLocks != nil {
		o.closeLocks()
	}
	return o.Store.Close()
}

// openCatalog opens the catalog cfg chooses, with the clock now. It is the
// one place the catalog is opened (open in wire.go).
func openCatalog(ctx context.Context, cfg *Config, now func() time.Time, log *slog.Logger) (*openedCatalog, error) {
	if cfg.Catalog.kind() != "postgres" {
		cat, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "catalog.db"), sqlite.Options{Now: now})
		if err != nil {
			return nil, err
		}
		return &openedCatalog{Store: cat}, nil
	}
	dsn, err := cfg.Catalog.dsn()
	if err != nil {
		return nil, err
	}
	db, err := postgres.Open(ctx, dsn, postgres.Options{Now: now, MaxConns: cfg.Catalog.MaxConns})
	if err != nil {
		return nil, err
	}
	if cfg.Storage.Type != "s3" {
		log.Warn("the catalog is PostgreSQL but blobs are on this node's disk (storage.type local): other nodes cannot serve them; use storage.type s3 for several nodes")
	}
	l := db.Locker()
	return &openedCatalog{Store: db, locker: l, pg: db, closeLocks: l.Close}, nil
}

// nodeNameEnv names the environment variable that names this node in the
// publish log.
const nodeNameEnv = "PIER_NODE_NAME"

// nodeName names this process in the publish log: PIER_NODE_NAME, else
// host name and listen address.
func nodeName(cfg *Config) string {
	if v := os.Getenv(nodeNameEnv); v != "" {
		return v
	}
	host, _ := os.Hostname()
	return host + "/" + cfg.Listen
}
