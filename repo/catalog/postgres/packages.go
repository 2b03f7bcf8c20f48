package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/repo"
)

const pkgCols = `id, component, name, version, arch, sha256, orig_sha256, size, sums, meta, uploaded, extra`

func scanPackage(s pgx.Row) (*repo.Package, error) {
	var p repo.Package
	var sums, extra string
	var up int64
	if err := s.Scan(&p.ID, &p.Component, &p.Name, &p.Version, &p.Arch, &p.SHA256, &p.OrigSHA256, &p.Size, &sums, &p.Meta, &up, &extra); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(sums), &p.Sums); err != nil {
		return nil, fmt.Errorf("decode sums of %s: %w", p.Name, err)
	}
	var err error
	if p.Extra, err = decodeExtra(extra); err != nil {
		return nil, fmt.Errorf("decode extra blobs of %s: %w", p.Name, err)
	}
	p.Uploaded = time.Unix(0, up).UTC()
	return &p, nil
}

func collectPackages(rows pgx.Rows) ([]repo.Package, error) {
	defer rows.Close()
	var out []repo.Package
	for rows.Next() {
		p, err := scanPackage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

// AddPackage implements repo.PackageWriter.
func (d *DB) AddPackage(ctx context.Context, target int64, p *repo.Package) (*repo.Package, bool, error) {
	res, err := d.AddPackages(ctx, target, []*repo.Package{p})
	if err != nil {
		return nil, false, err
	}
	return res[0].Package, res[0].Added, res[0].Err
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

// AddPackages implements repo.PackageWriter.
func (d *DB) AddPackages(ctx context.Context, target int64, ps []*repo.Package) ([]repo.AddResult, error) {
	return d.addPackages(ctx, target, ps, false)
}

// AddPackageSet implements repo.PackageWriter.
func (d *DB) AddPackageSet(ctx context.Context, target int64, ps []*repo.Package) ([]repo.AddResult, error) {
	return d.addPackages(ctx, target, ps, true)
}

// addPackages adds ps in one transaction; with all, a conflict rolls
// everything back and is the error.
func (d *DB) addPackages(ctx context.Context, target int64, ps []*repo.Package, all bool) ([]repo.AddResult, error) {
	tx, err := d.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("add packages: %w", err)
	}
	defer rollback(tx)
	if err := lockUnfrozen(ctx, tx, target, "adding packages", "add packages"); err != nil {
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
	if added == 0 {
		// A re-upload of what is there changes nothing and writes no event.
		if err := tx.Commit(ctx); err != nil {
			return nil, fmt.Errorf("commit packages: %w", err)
		}
		return out, nil
	}
	if err := bumpRevision(ctx, tx, target); err != nil {
		return nil, err
	}
	if err := d.commitWithEvents(ctx, tx); err != nil {
		return nil, fmt.Errorf("commit packages: %w", err)
	}
	return out, nil
}

// addPackage adds p inside tx (which holds the target's row lock, so no
// other writer adds to the target meanwhile); a conflict is a result.
func addPackage(ctx context.Context, tx pgx.Tx, target int64, p *repo.Package) (repo.AddResult, error) {
	sums, err := json.Marshal(p.Sums)
	if err != nil {
		return repo.AddResult{}, fmt.Errorf("encode sums: %w", err)
	}
	old, err := scanPackage(tx.QueryRow(ctx, `SELECT `+pkgCols+` FROM packages
		WHERE target_id = $1 AND name = $2 AND version = $3 AND arch = $4 AND removed IS NULL`, target, p.Name, p.Version, p.Arch))
	switch {
	case err == nil:
		if old.SameUpload(p) {
			return repo.AddResult{Package: old}, nil
		}
		return repo.AddResult{Package: old, Err: fmt.Errorf("%s %s (%s) already exists with other content (sha256 %s): %w",
			p.Name, p.Version, p.Arch, old.SHA256, repo.ErrConflict)}, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return repo.AddResult{}, fmt.Errorf("look up %s %s: %w", p.Name, p.Version, err)
	}
	extra, err := encodeExtra(p.Extra)
	if err != nil {
		return repo.AddResult{}, fmt.Errorf("encode extra blobs: %w", err)
	}
	if err := tx.QueryRow(ctx, `INSERT INTO packages (target_id, component, name, version, arch, sha256, orig_sha256, size, sums, meta, uploaded, extra)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`, target, p.Component, p.Name, p.Version, p.Arch, p.SHA256,
		p.OrigSHA256, p.Size, string(sums), p.Meta, p.Uploaded.UnixNano(), extra).Scan(&p.ID); err != nil {
		return repo.AddResult{}, fmt.Errorf("insert %s %s: %w", p.Name, p.Version, err)
	}
	return repo.AddResult{Package: p, Added: true}, nil
}

// FindPackage implements repo.PackageReader.
func (d *DB) FindPackage(ctx context.Context, target int64, name, version, arch string) (*repo.Package, error) {
	p, err := scanPackage(d.pool.QueryRow(ctx, `SELECT `+pkgCols+` FROM packages
		WHERE target_id = $1 AND name = $2 AND version = $3 AND arch = $4 AND removed IS NULL`, target, name, version, arch))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("package %s %s (%s): %w", name, version, arch, repo.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("find package %s: %w", name, err)
	}
	return p, nil
}

// DeletePackage implements repo.PackageWriter.
func (d *DB) DeletePackage(ctx context.Context, target int64, name, version, arch string) error {
	tx, err := d.begin(ctx)
	if err != nil {
		return fmt.Errorf("delete package: %w", err)
	}
	defer rollback(tx)
	if err := lockUnfrozen(ctx, tx, target, "delete", "delete package"); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `UPDATE packages SET removed = $1
		WHERE target_id = $2 AND name = $3 AND version = $4 AND arch = $5 AND removed IS NULL`,
		d.now().UnixNano(), target, name, version, arch)
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", name, version, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("package %s %s (%s): %w", name, version, arch, repo.ErrNotFound)
	}
	if err := bumpRevision(ctx, tx, target); err != nil {
		return err
	}
	if err := d.commitWithEvents(ctx, tx); err != nil {
		return fmt.Errorf("commit delete: %w", err)
	}
	return nil
}

// Packages implements repo.PackageReader.
func (d *DB) Packages(ctx context.Context, target int64) ([]repo.Package, error) {
	rows, err := d.pool.Query(ctx, `SELECT `+pkgCols+` FROM packages WHERE target_id = $1 AND removed IS NULL ORDER BY id`, target)
	if err != nil {
		return nil, fmt.Errorf("list packages: %w", err)
	}
	out, err := collectPackages(rows)
	if err != nil {
		return nil, fmt.Errorf("list packages: %w", err)
	}
	return out, nil
}

// PackagePage implements repo.PackageReader. The packages_target_live
// index (target_id, id over live rows) makes it read only the page's rows.
func (d *DB) PackagePage(ctx context.Context, target int64, q repo.PackageQuery) ([]repo.Package, error) {
	if q.Limit < 1 || q.After < 0 {
		return nil, fmt.Errorf("list a page of packages: limit %d after %d: %w", q.Limit, q.After, repo.ErrInvalid)
	}
	// Only the filters asked for are in the statement, so the planner
	// sees name = $n and can use packages_live (target_id, name, …).
	query := `SELECT ` + pkgCols + ` FROM packages WHERE target_id = $1 AND removed IS NULL AND id > $2`
	args := []any{target, q.After}
	if q.Name != "" {
		args = append(args, q.Name)
		query += fmt.Sprintf(` AND name = $%d`, len(args))
	}
	if q.Arch != "" {
		args = append(args, q.Arch)
		query += fmt.Sprintf(` AND arch = $%d`, len(args))
	}
	args = append(args, q.Limit)
	query += fmt.Sprintf(` ORDER BY id LIMIT $%d`, len(args))
	rows, err := d.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list a page of packages: %w", err)
	}
	out, err := collectPackages(rows)
	if err != nil {
		return nil, fmt.Errorf("list a page of packages: %w", err)
	}
	return out, nil
}

// PackageKeys implements repo.PackageReader.
func (d *DB) PackageKeys(ctx context.Context, target int64) ([]repo.Package, error) {
	rows, err := d.pool.Query(ctx, `SELECT id, component, name, version, arch, sha256, orig_sha256, size, uploaded
		FROM packages WHERE target_id = $1 AND removed IS NULL`, target)
	if err != nil {
		return nil, fmt.Errorf("list package keys: %w", err)
	}
	defer rows.Close()
	var out []repo.Package
	for rows.Next() {
		var p repo.Package
		var up int64
		if err := rows.Scan(&p.ID, &p.Component, &p.Name, &p.Version, &p.Arch, &p.SHA256, &p.OrigSHA256, &p.Size, &up); err != nil {
			return nil, fmt.Errorf("list package keys: %w", err)
		}
		p.Uploaded = time.Unix(0, up).UTC()
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list package keys: %w", err)
	}
	return out, nil
}

// LivePackageIDs implements repo.PackageReader.
func (d *DB) LivePackageIDs(ctx context.Context, target int64) ([]int64, error) {
	// One array instead of a row per id: a 100,000-package target's ids
	// arrive in a fraction of the time.
	var ids []int64
	if err := d.pool.QueryRow(ctx, `SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM packages
		WHERE target_id = $1 AND removed IS NULL`, target).Scan(&ids); err != nil {
		return nil, fmt.Errorf("list package ids: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return ids, nil
}

// PackagesByID implements repo.PackageReader.
func (d *DB) PackagesByID(ctx context.Context, target int64, ids []int64) ([]repo.Package, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read packages: %w", err)
	}
	if len(ids) == 0 {
		return []repo.Package{}, nil
	}
	rows, err := d.pool.Query(ctx, `SELECT `+pkgCols+` FROM packages WHERE target_id = $1 AND id = ANY($2)`, target, ids)
	if err != nil {
		return nil, fmt.Errorf("read packages: %w", err)
	}
	out, err := collectPackages(rows)
	if err != nil {
		return nil, fmt.Errorf("read packages: %w", err)
	}
	if out == nil {
		out = []repo.Package{}
	}
	return out, nil
}

// LiveElsewhere implements repo.PackageReader.
func (d *DB) LiveElsewhere(ctx context.Context, target int64, sums []string) (map[string]bool, error) {
	out := map[string]bool{}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("find references: %w", err)
	}
	if len(sums) == 0 {
		return out, nil
	}
	// A frozen target's rows are copies the snapshot holds on its own: they
	// keep no blob of another target alive (repo.Snapshotter).
	found, err := column[string](ctx, d.pool, `SELECT DISTINCT sha256 FROM packages p WHERE target_id <> $1 AND removed IS NULL
		AND sha256 = ANY($2) AND NOT EXISTS (SELECT 1 FROM frozen_targets f WHERE f.target_id = p.target_id)`, target, sums)
	if err != nil {
		return nil, fmt.Errorf("find references: %w", err)
	}
	for _, sum := range found {
		out[sum] = true
	}
	return out, nil
}

// RemovePackages implements repo.PackageWriter.
func (d *DB) RemovePackages(ctx context.Context, target int64, ids []int64) error {
	if len(ids) == 0 {
		return ctx.Err()
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return fmt.Errorf("remove packages: %w", err)
	}
	defer rollback(tx)
	if err := lockUnfrozen(ctx, tx, target, "removal", "remove packages"); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `UPDATE packages SET removed = $1 WHERE target_id = $2 AND removed IS NULL AND id = ANY($3)`,
		d.now().UnixNano(), target, ids)
	if err != nil {
		return fmt.Errorf("remove packages: %w", err)
	}
	removed := tag.RowsAffected()
	if removed == 0 {
		return nil // none of them was live: nothing changes
	}
	if err := bumpRevision(ctx, tx, target); err != nil {
		return err
	}
	setEvents(ctx, "removed", removed)
	if err := d.commitWithEvents(ctx, tx); err != nil {
		return fmt.Errorf("commit removal: %w", err)
	}
	return nil
}

// SetLivePackages implements repo.PackageWriter.
func (d *DB) SetLivePackages(ctx context.Context, target int64, ids []int64) error {
	tx, err := d.begin(ctx)
	if err != nil {
		return fmt.Errorf("restore packages: %w", err)
	}
	defer rollback(tx)
	if err := lockUnfrozen(ctx, tx, target, "rollback", "restore packages"); err != nil {
		return err
	}
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	if ids == nil {
		ids = []int64{}
	}
	var found int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM packages WHERE target_id = $1 AND id = ANY($2)`, target, ids).Scan(&found); err != nil {
		return fmt.Errorf("restore packages: %w", err)
	}
	if found != len(want) {
		return fmt.Errorf("%d of the generation's %d packages were already collected: %w", len(want)-found, len(want), repo.ErrNotFound)
	}
	now := d.now().UnixNano()
	if _, err := tx.Exec(ctx, `UPDATE packages SET removed = $1 WHERE target_id = $2 AND removed IS NULL AND NOT (id = ANY($3))`,
		now, target, ids); err != nil {
		return fmt.Errorf("restore packages: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE packages SET removed = NULL WHERE target_id = $1 AND removed IS NOT NULL AND id = ANY($2)`,
		target, ids); err != nil {
		if isUnique(err) {
			return fmt.Errorf("restore packages: two packages with one name, version and architecture: %w", repo.ErrConflict)
		}
		return fmt.Errorf("restore packages: %w", err)
	}
	if err := bumpRevision(ctx, tx, target); err != nil {
		return err
	}
	if err := d.commitWithEvents(ctx, tx); err != nil {
		return fmt.Errorf("commit restore: %w", err)
	}
	return nil
}
