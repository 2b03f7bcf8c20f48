package postgres

import (
	"context"
	"fmt"
	"time"
)

// KeyFile is one file of the signing key directory as the cluster keeps
// it, so that every node signs with the same keys: Name is its path in the
// key directory ("pier-signing.asc", "retired/x.asc"), Data its bytes,
// encrypted by the caller when Encrypted.
type KeyFile struct {
	Name      string
	Data      []byte
	Encrypted bool
	Created   time.Time
}

// KeyFiles returns the cluster's key files, ordered by name (none before
// the first node stored them).
func (d *DB) KeyFiles(ctx context.Context) ([]KeyFile, error) {
	rows, err := d.pool.Query(ctx, `SELECT name, data, encrypted, created FROM cluster_keys ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("read cluster keys: %w", err)
	}
	defer rows.Close()
	var out []KeyFile
	for rows.Next() {
		var k KeyFile
		var created int64
		if err := rows.Scan(&k.Name, &k.Data, &k.Encrypted, &created); err != nil {
			return nil, fmt.Errorf("read cluster keys: %w", err)
		}
		k.Created = time.Unix(0, created).UTC()
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read cluster keys: %w", err)
	}
	return out, nil
}

// SetKeyFiles makes files the cluster's key files, in one transaction (a
// key generated or retired on one node reaches the others whole).
func (d *DB) SetKeyFiles(ctx context.Context, files []KeyFile) error {
	tx, err := d.begin(ctx)
	if err != nil {
		return fmt.Errorf("store cluster keys: %w", err)
	}
	defer rollback(tx)
	if _, err := tx.Exec(ctx, `DELETE FROM cluster_keys`); err != nil {
		return fmt.Errorf("store cluster keys: %w", err)
	}
	for _, k := range files {
		if _, err := tx.Exec(ctx, `INSERT INTO cluster_keys (name, kind, data, encrypted, created) VALUES ($1, '', $2, $3, $4)`,
			k.Name, k.Data, k.Encrypted, k.Created.UnixNano()); err != nil {
			return fmt.Errorf("store cluster key %s: %w", k.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store cluster keys: %w", err)
	}
	return nil
}
