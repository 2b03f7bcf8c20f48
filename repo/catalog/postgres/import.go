package postgres

import (
	"context"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"
)

// ImportTable is one table to copy into a new catalog: its rows with the
// columns Cols (names of this schema's columns), and the largest id it
// ever gave out (0: the table has no id), so that new ids continue after
// it and are never reused.
type ImportTable struct {
	Name   string
	Cols   []string
	Rows   iter.Seq2[[]any, error]
	LastID int64
}

// Import copies tables into the catalog, which must be empty, in one
// transaction (pier migrate-catalog): ids are kept, so generations' package
// ids and alias claims stay true. Values are converted where the source
// stores text as bytes or bytes as text. It returns the rows copied per
// table.
func (d *DB) Import(ctx context.Context, tables []ImportTable) (map[string]int64, error) {
	tx, err := d.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("import catalog: %w", err)
	}
	defer rollback(tx)
	var used bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM targets) OR EXISTS (SELECT 1 FROM tokens)
		OR EXISTS (SELECT 1 FROM audit)`).Scan(&used); err != nil {
		return nil, fmt.Errorf("import catalog: %w", err)
	}
	if used {
		return nil, fmt.Errorf("import catalog: the PostgreSQL catalog is not empty (it has targets, tokens or audit events)")
	}
	counts := map[string]int64{}
	for _, tb := range tables {
		types, err := columnTypes(ctx, tx, tb.Name)
		if err != nil {
			return nil, err
		}
		next, stop := iter.Pull2(tb.Rows)
		src := pgx.CopyFromFunc(func() ([]any, error) {
			row, err, ok := next()
			if !ok || err != nil {
				return nil, err
			}
			for i, c := range tb.Cols {
				row[i] = convert(row[i], types[c])
			}
			return row, nil
		})
		n, err := tx.CopyFrom(ctx, pgx.Identifier{tb.Name}, tb.Cols, src)
		stop()
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", tb.Name, err)
		}
		counts[tb.Name] = n
		if tb.LastID > 0 {
			if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), $2)`, tb.Name, tb.LastID); err != nil {
				return nil, fmt.Errorf("import %s: continue ids after %d: %w", tb.Name, tb.LastID, err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("import catalog: %w", err)
	}
	return counts, nil
}

// columnTypes returns the data type of each column of table.
func columnTypes(ctx context.Context, tx pgx.Tx, table string) (map[string]string, error) {
	rows, err := tx.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1`, table)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var c, t string
		if err := rows.Scan(&c, &t); err != nil {
			return nil, fmt.Errorf("inspect %s: %w", table, err)
		}
		out[c] = t
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("inspect %s: no such table", table)
	}
	return out, rows.Err()
}

// convert makes v fit a column of type typ: text kept as bytes by SQLite
// becomes a string, bytes kept as text become bytes.
func convert(v any, typ string) any {
	switch x := v.(type) {
	case []byte:
		if typ == "text" {
			return string(x)
		}
	case string:
		if typ == "bytea" {
			return []byte(x)
		}
	}
	return v
}
