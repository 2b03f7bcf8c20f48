package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pierhq/pier/repo/catalog/postgres"
	"github.com/pierhq/pier/repo/catalog/sqlite"
)

// catalogTable is one table pier migrate-catalog copies, with the columns
// both schemas share.
type catalogTable struct {
	name string
	cols []string
	// id marks tables whose ids must continue after the copied ones.
	id bool
	// optional tables exist only in catalogs that used them.
	optional bool
}

// catalogTables lists what a catalog holds, targets first (the others
// name them).
func catalogTables() []catalogTable {
	return []catalogTable{
		{name: "targets", id: true, cols: []string{"id", "stream", "distro", "release", "format", "revision", "current_gen",
			"publish_error", "publish_failures", "publish_failing_since"}},
		{name: "packages", id: true, cols: []string{"id", "target_id", "component", "name", "version", "arch", "sha256",
			"orig_sha256", "size", "sums", "meta", "uploaded", "removed"}},
		{name: "generations", id: true, cols: []string{"id", "target_id", "seq", "created", "revision", "manifest", "files",
			"packages", "package_ids", "note", "changes"}},
		{name: "pins", cols: []string{"target_id", "name", "version", "created"}},
		{name: "aliases", cols: []string{"claim", "target_id", "created"}},
		{name: "removed_targets", optional: true, cols: []string{"id", "stream", "distro", "release", "removed"}},
		{name: "frozen_targets", optional: true, cols: []string{"target_id", "source_stream", "source_distro", "source_release", "source_generation", "created"}},
		{name: "tokens", id: true, cols: []string{"id", "name", "hash", "scopes", "created", "expires", "last_used"}},
		{name: "audit", id: true, cols: []string{"id", "time", "actor", "action", "target", "detail", "remote", "ci_job_url",
			"ci_commit", "request_id"}},
	}
}

// migrateCatalogCmd copies the data directory's SQLite catalog into an
// empty PostgreSQL catalog, so that a single node grows into a cluster
// without uploading anything again.
func (c *cli) migrateCatalogCmd() *cobra.Command {
	var to string
	return c.command(dataCmd{
		use:   "migrate-catalog --to postgres://…",
		short: "copy the SQLite catalog (and the signing keys, mirror states) into an empty PostgreSQL catalog",
		long: `Copies every target, package, generation, pin, alias claim, token and audit event of the data
directory's SQLite catalog into an empty PostgreSQL catalog, keeping their ids, in one transaction;
stores the data directory's signing keys in it (encrypted with PIER_KEY_PASSPHRASE when set), so that
every node signs with the keys clients already trust; and copies the mirrors' sync states. Stop pier
serve first. The blobs stay where storage: says; for several nodes move them to S3 (copy
<data>/blobs/sha256/ to <bucket>/<prefix>sha256/, the same keys) and set storage.type s3. Then set
catalog.type postgres (or PIER_DATABASE_URL) and start the nodes: they serve the same generations.`,
		args: args(0, 0, "no arguments (the destination is --to)"),
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&to, "to", "", "PostgreSQL DSN of the new catalog (default: $PIER_DATABASE_URL)")
		},
		run: func(ctx context.Context, a *app, cmd *cobra.Command, _ []string) error {
			if to == "" {
				to = os.Getenv(databaseURLEnv)
			}
			if to == "" {
				return &usageError{cmd: cmd, msg: "--to postgres://… is required"}
			}
			var src *sqlite.DB
			if oc, ok := a.cat.(*openedCatalog); ok {
				src, _ = oc.Store.(*sqlite.DB)
			}
			if src == nil {
				return fmt.Errorf("the configured catalog is not SQLite: nothing to migrate")
			}
			return migrateCatalog(ctx, a.cfg, src, to, c.stdout)
		},
	})
}

// migrateCatalog copies src into the catalog at dsn, with the key
// directory and the mirror states, and prints what it copied.
func migrateCatalog(ctx context.Context, cfg *Config, src *sqlite.DB, dsn string, out interface{ Write([]byte) (int, error) }) error {
	dst, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		return err
	}
	defer dst.Close()
	var tables []postgres.ImportTable
	for _, tb := range catalogTables() {
		has, err := src.HasTable(ctx, tb.name)
		if err != nil {
			return err
		}
		if !has {
			if tb.optional {
				continue
			}
			return fmt.Errorf("the SQLite catalog has no %s table", tb.name)
		}
		it := postgres.ImportTable{Name: tb.name, Cols: tb.cols, Rows: src.ExportRows(ctx, tb.name, tb.cols)}
		if tb.id {
			if it.LastID, err = src.LastID(ctx, tb.name); err != nil {
				return err
			}
		}
		tables = append(tables, it)
	}
	start := time.Now()
	counts, err := dst.Import(ctx, tables)
	if err != nil {
		return err
	}
	var parts []string
	for _, tb := range tables {
		parts = append(parts, fmt.Sprintf("%d %s", counts[tb.Name], tb.Name))
	}
	fmt.Fprintf(out, "copied %s in %s\n", strings.Join(parts, ", "), time.Since(start).Round(time.Millisecond))
	if err := storeKeyDir(ctx, cfg, dst, os.Getenv(keyPassphraseEnv)); err != nil {
		return err
	}
	fmt.Fprintln(out, "stored the signing keys of "+keyDir(cfg)+" in the cluster")
	for _, m := range cfg.Mirrors {
		data, err := os.ReadFile(filepath.Join(cfg.DataDir, "mirrors", m.Name+".json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("mirror %s: %w", m.Name, err)
		}
		if err := dst.SaveMirrorState(ctx, m.Name, data); err != nil {
			return err
		}
		fmt.Fprintf(out, "copied the sync state of mirror %s\n", m.Name)
	}
	return nil
}
