// Package sqlite is Pier's SQLite catalog (modernc.org/sqlite: pure Go, no
// cgo). It implements repo.Catalog. The database runs in WAL mode with full
// synchronous commits, so a committed upload survives a crash, and several
// processes (pier serve, pier import) can share one data directory.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// DB is the SQLite catalog.
type DB struct {
	db  *sql.DB
	now func() time.Time
}

// Options configure a catalog handle.
type Options struct {
	// Now is the clock of the times the catalog sets by itself (when a
	// package row was removed, a pin's creation, an audit event's time
	// when the caller left it zero); nil means time.Now.
	Now func() time.Time
}

var _ catalog.Store = (*DB)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS targets (
	id INTEGER PRIMARY KEY,
	stream TEXT NOT NULL,
	distro TEXT NOT NULL,
	release TEXT NOT NULL,
	format TEXT NOT NULL,
	revision INTEGER NOT NULL DEFAULT 0,
	current_gen INTEGER,
	publish_error TEXT NOT NULL DEFAULT '',
	publish_failures INTEGER NOT NULL DEFAULT 0,
	publish_failing_since INTEGER,
	UNIQUE (stream, distro, release)
);
CREATE TABLE IF NOT EXISTS packages (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	target_id INTEGER NOT NULL REFERENCES targets(id),
	component TEXT NOT NULL,
	name TEXT NOT NULL,
	version TEXT NOT NULL,
	arch TEXT NOT NULL,
	sha256 TEXT NOT NULL,
	orig_sha256 TEXT NOT NULL DEFAULT '',
	size INTEGER NOT NULL,
	sums TEXT NOT NULL,
	meta BLOB NOT NULL,
	uploaded INTEGER NOT NULL,
	removed INTEGER,
	extra TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS packages_live ON packages (target_id, name, version, arch) WHERE removed IS NULL;
CREATE INDEX IF NOT EXISTS packages_sha256 ON packages (sha256);
CREATE INDEX IF NOT EXISTS packages_target ON packages (target_id, id) WHERE removed IS NULL;
CREATE INDEX IF NOT EXISTS packages_keys ON packages (target_id, id, component, name, version, arch, sha256, orig_sha256, size, uploaded) WHERE removed IS NULL;
CREATE TABLE IF NOT EXISTS generations (
	id INTEGER PRIMARY KEY,
	target_id INTEGER NOT NULL REFERENCES targets(id),
	seq INTEGER NOT NULL,
	created INTEGER NOT NULL,
	revision INTEGER NOT NULL,
	manifest TEXT NOT NULL,
	files INTEGER NOT NULL,
	packages INTEGER NOT NULL,
	package_ids BLOB,
	note TEXT NOT NULL DEFAULT '',
	changes TEXT NOT NULL DEFAULT '',
	UNIQUE (target_id, seq)
);
CREATE TABLE IF NOT EXISTS pins (
	target_id INTEGER NOT NULL REFERENCES targets(id),
	name TEXT NOT NULL,
	version TEXT NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (target_id, name, version)
);
`

// Open opens (creating if needed, and migrating from an older Pier's
// schema) the catalog database at path.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate catalog %s: %w", path, err)
	}
	for _, sc := range []string{schema, tokenSchema, auditSchema, publishSchema, frozenSchema, searchSchema, sessionSchema} {
		if sc == "" {
			continue
		}
		if _, err := db.ExecContext(ctx, sc); err != nil {
			db.Close()
			return nil, fmt.Errorf("create catalog schema in %s: %w", path, err)
		}
	}
	return &DB{db: db, now: opts.Now}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.db.PingContext(ctx) }

// Target implements repo.Catalog. It is cheap when the target exists (one
// indexed read, no write lock, no package count): ingest calls it for every
// package.
func (d *DB) Target(ctx context.Context, t repo.Target, format string) (*repo.TargetInfo, error) {
	ti, err := d.lookupTarget(ctx, t)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := d.db.ExecContext(ctx,
			`INSERT INTO targets (stream, distro, release, format) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			t.Stream, t.Distro, t.Release, format); err != nil {
			return nil, fmt.Errorf("create target %s: %w", t, err)
		}
		ti, err = d.lookupTarget(ctx, t)
	}
	if err != nil {
		return nil, fmt.Errorf("look up target %s: %w", t, err)
	}
	if ti.Format != format {
		return nil, fmt.Errorf("target %s holds %s packages, not %s: %w", t, ti.Format, format, repo.ErrInvalid)
	}
	return ti, nil
}

func (d *DB) lookupTarget(ctx context.Context, t repo.Target) (*repo.TargetInfo, error) {
	ts, err := d.targets(ctx, false, `WHERE t.stream = ? AND t.distro = ? AND t.release = ?`, t.Stream, t.Distro, t.Release)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, sql.ErrNoRows
	}
	return &ts[0], nil
}

// Targets implements repo.Catalog.
func (d *DB) Targets(ctx context.Context) ([]repo.TargetInfo, error) {
	return d.targets(ctx, true, "")
}

// Heads implements repo.Catalog.
func (d *DB) Heads(ctx context.Context) ([]repo.TargetInfo, error) {
	return d.targets(ctx, false, "")
}

// targets lists targets; counting packages costs a scan of each target's
// packages, so only listings ask for it.
func (d *DB) targets(ctx context.Context, count bool, where string, args ...any) ([]repo.TargetInfo, error) {
	countExpr := "0, 0"
	if count {
		countExpr = "(SELECT count(*) FROM packages p WHERE p.target_id = t.id AND p.removed IS NULL), (SELECT coalesce(sum(size), 0) FROM packages p WHERE p.target_id = t.id AND p.removed IS NULL)"
	}
	rows, err := d.db.QueryContext(ctx, `
SELECT t.id, t.stream, t.distro, t.release, t.format, t.revision, `+countExpr+`,
       t.publish_error, t.publish_failures, t.publish_failing_since,
       g.id, g.seq, g.created, g.revision, g.manifest, g.files, g.packages,
       f.source_stream, f.source_distro, f.source_release, f.source_generation, f.created
FROM targets t LEFT JOIN generations g ON g.id = t.current_gen LEFT JOIN frozen_targets f ON f.target_id = t.id `+where+`
ORDER BY t.stream, t.distro, t.release`, args...)
	if err != nil {
		return nil, fmt.Errorf("list targets: %w", err)
	}
	defer rows.Close()
	var out []repo.TargetInfo
	for rows.Next() {
		var ti repo.TargetInfo
		var gid, gseq, gcreated, grev, gfiles, gpkgs sql.NullInt64
		var gman sql.NullString
		var failingSince sql.NullInt64
		var fStream, fDistro, fRelease sql.NullString
		var fGen, fCreated sql.NullInt64
		if err := rows.Scan(&ti.ID, &ti.Stream, &ti.Distro, &ti.Release, &ti.Format, &ti.Revision, &ti.Packages, &ti.Bytes,
			&ti.PublishError, &ti.PublishFailures, &failingSince,
			&gid, &gseq, &gcreated, &grev, &gman, &gfiles, &gpkgs,
			&fStream, &fDistro, &fRelease, &fGen, &fCreated); err != nil {
			return nil, fmt.Errorf("list targets: %w", err)
		}
		if fStream.Valid {
			ti.Frozen = &repo.Frozen{Source: repo.Target{Stream: fStream.String, Distro: fDistro.String, Release: fRelease.String},
				SourceGeneration: fGen.Int64, Created: time.Unix(0, fCreated.Int64).UTC()}
		}
		if gid.Valid {
			ti.Current = &repo.Generation{ID: gid.Int64, Seq: gseq.Int64, Created: time.Unix(gcreated.Int64, 0).UTC(),
				Revision: grev.Int64, Manifest: gman.String, Files: int(gfiles.Int64), Packages: int(gpkgs.Int64)}
		}
		if failingSince.Valid {
			t := time.Unix(0, failingSince.Int64).UTC()
			ti.FailingSince = &t
		}
		ti.State = ti.PublishState()
		out = append(out, ti)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list targets: %w", err)
	}
	return out, nil
}

const pkgCols = `id, component, name, version, arch, sha256, orig_sha256, size, sums, meta, uploaded, extra`

func scanPackage(s interface{ Scan(...any) error }) (*repo.Package, error) {
	var p repo.Package
	var sums []byte
	var up int64
	var extra string
	if err := s.Scan(&p.ID, &p.Component, &p.Name, &p.Version, &p.Arch, &p.SHA256, &p.OrigSHA256, &p.Size, &sums, &p.Meta, &up, &extra); err != nil {
		return nil, err
	}
	var err error
	if p.Sums, err = decodeSums(sums); err != nil {
		return nil, fmt.Errorf("decode sums of %s: %w", p.Name, err)
	}
	if p.Extra, err = decodeExtra(extra); err != nil {
		return nil, fmt.Errorf("decode extra blobs of %s: %w", p.Name, err)
	}
	p.Uploaded = time.Unix(0, up).UTC()
	return &p, nil
}

// encodeExtra encodes a package's Extra blobs for the extra column: ""
// when there are none (most packages), else a JSON array.
func encodeExtra(bs []repo.Blob) (string, error) {
	if len(bs) == 0 {
		return "", nil
	}
	b, err := json.Marshal(bs)
	return string(b), err
}

func decodeExtra(s string) ([]repo.Blob, error) {
	if s == "" {
		return nil, nil
	}
	var bs []repo.Blob
	if err := json.Unmarshal([]byte(s), &bs); err != nil {
		return nil, err
	}
	return bs, nil
}

// AddPackage implements repo.Catalog.
func (d *DB) AddPackage(ctx context.Context, target int64, p *repo.Package) (*repo.Package, bool, error) {
	res, err := d.AddPackages(ctx, target, []*repo.Package{p})
	if err != nil {
		return nil, false, err
	}
	return res[0].Package, res[0].Added, res[0].Err
}

// AddPackages implements repo.Catalog.
func (d *DB) AddPackages(ctx context.Context, target int64, ps []*repo.Package) ([]repo.AddResult, error) {
	return d.addPackages(ctx, target, ps, false)
}

// AddPackageSet implements repo.Catalog.
func (d *DB) AddPackageSet(ctx context.Context, target int64, ps []*repo.Package) ([]repo.AddResult, error) {
	return d.addPackages(ctx, target, ps, true)
}

// addPackages adds ps in one transaction; with all, a conflict rolls
// everything back and is the error.
func (d *DB) addPackages(ctx context.Context, target int64, ps []*repo.Package, all bool) ([]repo.AddResult, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("add packages: %w", err)
	}
	defer tx.Rollback()
	if err := refuseFrozen(ctx, tx, target, "adding packages"); err != nil {
		return nil, err
	}
	out := make([]repo.AddResult, len(ps))
	added := 0
	for i, p := range ps {
		r, err := addPackage(ctx, tx, target, p)
		if err != nil {
			return nil, err
		}
		if all && r.Err != nil {
			for _, q := range ps[:i] {
				q.ID = 0 // rolled back
			}
			return nil, fmt.Errorf("add package set: %w", r.Err)
		}
		out[i] = r
		if r.Added {
			added++
		}
	}
	if added > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE targets SET revision = revision + 1 WHERE id = ?`, target); err != nil {
			return nil, fmt.Errorf("bump revision: %w", err)
		}
		// Events are written with a change only: a re-upload of what is
		// there changes nothing.
		if err := d.commitWithEvents(ctx, tx); err != nil {
			return nil, fmt.Errorf("commit packages: %w", err)
		}
		return out, nil
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit packages: %w", err)
	}
	return out, nil
}

// addPackage adds p inside tx; a conflict is a result, not an error.
func addPackage(ctx context.Context, tx *sql.Tx, target int64, p *repo.Package) (repo.AddResult, error) {
	sums, err := json.Marshal(p.Sums)
	if err != nil {
		return repo.AddResult{}, fmt.Errorf("encode sums: %w", err)
	}
	old, err := scanPackage(tx.QueryRowContext(ctx, `SELECT `+pkgCols+` FROM packages
		WHERE target_id = ? AND name = ? AND version = ? AND arch = ? AND removed IS NULL`, target, p.Name, p.Version, p.Arch))
	switch {
	case err == nil:
		if old.SameUpload(p) {
			return repo.AddResult{Package: old}, nil
		}
		return repo.AddResult{Package: old, Err: fmt.Errorf("%s %s (%s) already exists with other content (sha256 %s): %w",
			p.Name, p.Version, p.Arch, old.SHA256, repo.ErrConflict)}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return repo.AddResult{}, fmt.Errorf("look up %s %s: %w", p.Name, p.Version, err)
	}
	extra, err := encodeExtra(p.Extra)
	if err != nil {
		return repo.AddResult{}, fmt.Errorf("encode extra blobs: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO packages (target_id, component, name, version, arch, sha256, orig_sha256, size, sums, meta, uploaded, extra)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, target, p.Component, p.Name, p.Version, p.Arch, p.SHA256, p.OrigSHA256, p.Size,
		sums, p.Meta, p.Uploaded.UnixNano(), extra)
	if err != nil {
		return repo.AddResult{}, fmt.Errorf("insert %s %s: %w", p.Name, p.Version, frozenTrigger(err))
	}
	if p.ID, err = res.LastInsertId(); err != nil {
		return repo.AddResult{}, fmt.Errorf("insert %s %s: %w", p.Name, p.Version, err)
	}
	return repo.AddResult{Package: p, Added: true}, nil
}

// FindPackage implements repo.Catalog.
func (d *DB) FindPackage(ctx context.Context, target int64, name, version, arch string) (*repo.Package, error) {
	p, err := scanPackage(d.db.QueryRowContext(ctx, `SELECT `+pkgCols+` FROM packages
		WHERE target_id = ? AND name = ? AND version = ? AND arch = ? AND removed IS NULL`, target, name, version, arch))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("package %s %s (%s): %w", name, version, arch, repo.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("find package %s: %w", name, err)
	}
	return p, nil
}

// DeletePackage implements repo.Catalog.
func (d *DB) DeletePackage(ctx context.Context, target int64, name, version, arch string) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete package: %w", err)
	}
	defer tx.Rollback()
	if err := refuseFrozen(ctx, tx, target, "delete"); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE packages SET removed = ?
		WHERE target_id = ? AND name = ? AND version = ? AND arch = ? AND removed IS NULL`,
		d.now().UnixNano(), target, name, version, arch)
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", name, version, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("package %s %s (%s): %w", name, version, arch, repo.ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE targets SET revision = revision + 1 WHERE id = ?`, target); err != nil {
		return fmt.Errorf("bump revision: %w", err)
	}
	if err := d.commitWithEvents(ctx, tx); err != nil {
		return fmt.Errorf("commit delete: %w", err)
	}
	return nil
}

// Packages implements repo.Catalog.
func (d *DB) Packages(ctx context.Context, target int64) ([]repo.Package, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+pkgCols+` FROM packages WHERE target_id = ? AND removed IS NULL ORDER BY id`, target)
	if err != nil {
		return nil, fmt.Errorf("list packages: %w", err)
	}
	defer rows.Close()
	var out []repo.Package
	for rows.Next() {
		p, err := scanPackage(rows)
		if err != nil {
			return nil, fmt.Errorf("list packages: %w", err)
		}
		out = append(out, *p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list packages: %w", err)
	}
	return out, nil
}

// PackagePage implements repo.PackageReader. The packages_target index
// (target_id, id over live rows) makes it read only the page's rows; with
// a name, the packages_live index (target_id, name, …) reads only that
// name's rows (the planner, without statistics, would walk
// packages_target for the ORDER BY and test every row's name: 0.23 s on a
// 100,000-package target).
func (d *DB) PackagePage(ctx context.Context, target int64, q repo.PackageQuery) ([]repo.Package, error) {
	if q.Limit < 1 || q.After < 0 {
		return nil, fmt.Errorf("list a page of packages: limit %d after %d: %w", q.Limit, q.After, repo.ErrInvalid)
	}
	from := `packages`
	if q.Name != "" {
		from = `packages INDEXED BY packages_live`
	}
	query := `SELECT ` + pkgCols + ` FROM ` + from + ` WHERE target_id = ? AND removed IS NULL AND id > ?`
	args := []any{target, q.After}
	if q.Name != "" {
		query += ` AND name = ?`
		args = append(args, q.Name)
	}
	if q.Arch != "" {
		query += ` AND arch = ?`
		args = append(args, q.Arch)
	}
	query += ` ORDER BY id LIMIT ?`
	args = append(args, q.Limit)
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list a page of packages: %w", err)
	}
	defer rows.Close()
	var out []repo.Package
	for rows.Next() {
		p, err := scanPackage(rows)
		if err != nil {
			return nil, fmt.Errorf("list a page of packages: %w", err)
		}
		out = append(out, *p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list a page of packages: %w", err)
	}
	return out, nil
}

// AddGeneration implements repo.Catalog. It stores g.PackageIDs and fills
// g.Changes by comparing them with the previous generation's.
func (d *DB) AddGeneration(ctx context.Context, target int64, g *repo.Generation) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add generation: %w", err)
	}
	defer tx.Rollback()
	var prevIDs []byte
	var hasPrev bool
	err = tx.QueryRowContext(ctx, `SELECT package_ids FROM generations WHERE target_id = ? ORDER BY seq DESC LIMIT 1`, target).Scan(&prevIDs)
	switch {
	case err == nil:
		hasPrev = true
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("read previous generation: %w", err)
	}
	ids := slices.Clone(g.PackageIDs)
	slices.Sort(ids)
	if hasPrev && prevIDs == nil {
		// Written before generations kept their package ids: unknown.
	} else if hasPrev {
		prev, err := decodeIDs(prevIDs)
		if err != nil {
			return err
		}
		if g.Changes, err = changes(ctx, tx, prev, ids); err != nil {
			return err
		}
	} else {
		if g.Changes, err = changes(ctx, tx, nil, ids); err != nil {
			return err
		}
	}
	chg, err := json.Marshal(g.Changes)
	if err != nil {
		return fmt.Errorf("encode changes: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) + 1 FROM generations WHERE target_id = ?`, target).Scan(&g.Seq); err != nil {
		return fmt.Errorf("next generation number: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO generations (target_id, seq, created, revision, manifest, files, packages, package_ids, note, changes)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, target, g.Seq, g.Created.Unix(), g.Revision, g.Manifest, g.Files, g.Packages,
		encodeIDs(ids), g.Note, chg)
	if err != nil {
		return fmt.Errorf("insert generation: %w", err)
	}
	if g.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("insert generation: %w", err)
	}
	if err := clearPublishState(ctx, tx, target); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE targets SET current_gen = ? WHERE id = ?`, g.ID, target); err != nil {
		return fmt.Errorf("switch generation: %w", err)
	}
	setEvents(ctx, "generation", g.Seq)
	setEvents(ctx, "packages", g.Packages)
	if err := d.commitWithEvents(ctx, tx); err != nil {
		return fmt.Errorf("commit generation: %w", err)
	}
	return nil
}

// Generations implements repo.Catalog.
func (d *DB) Generations(ctx context.Context, target int64, limit int) ([]repo.Generation, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, seq, created, revision, manifest, files, packages, note, changes
		FROM generations WHERE target_id = ? ORDER BY seq DESC LIMIT ?`, target, limit)
	if err != nil {
		return nil, fmt.Errorf("list generations: %w", err)
	}
	defer rows.Close()
	var out []repo.Generation
	for rows.Next() {
		var g repo.Generation
		var created int64
		var chg string
		if err := rows.Scan(&g.ID, &g.Seq, &created, &g.Revision, &g.Manifest, &g.Files, &g.Packages, &g.Note, &chg); err != nil {
			return nil, fmt.Errorf("list generations: %w", err)
		}
		g.Created = time.Unix(created, 0).UTC()
		if chg != "" && chg != "null" {
			g.Changes = &repo.Changes{}
			if err := json.Unmarshal([]byte(chg), g.Changes); err != nil {
				return nil, fmt.Errorf("decode changes of generation %d: %w", g.Seq, err)
			}
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list generations: %w", err)
	}
	return out, nil
}
