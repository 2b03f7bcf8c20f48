package catalog

import (
	"cmp"
	"slices"
	"time"

	"github.com/pierhq/pier/repo"
)

// What both implementations of repo.SearchIndex share: the columns of a
// hit, reading one, and the order of a search by name.

// HitColumns are the columns ScanHit reads, from packages p and targets t.
const HitColumns = `t.id, t.stream, t.distro, t.release, p.id, p.component, p.name, p.version, p.arch, p.sha256, p.orig_sha256, p.size, p.uploaded`

// TargetPackageColumns are the columns ScanTargetPackage reads (HitColumns
// with the row's Meta), for UnindexedPackages.
const TargetPackageColumns = `t.id, t.stream, t.distro, t.release, p.id, p.component, p.name, p.version, p.arch, p.sha256, p.orig_sha256, p.size, p.meta, p.uploaded`

// Row is a database row being read (database/sql's and pgx's).
type Row interface{ Scan(dest ...any) error }

// ScanHit reads a row of HitColumns, then extra.
func ScanHit(row Row, extra ...any) (repo.SearchHit, error) {
	var h repo.SearchHit
	var up int64
	p := &h.Package
	dst := append([]any{&h.TargetID, &h.Target.Stream, &h.Target.Distro, &h.Target.Release, &p.ID, &p.Component, &p.Name,
		&p.Version, &p.Arch, &p.SHA256, &p.OrigSHA256, &p.Size, &up}, extra...)
	if err := row.Scan(dst...); err != nil {
		return h, err
	}
	p.Uploaded = time.Unix(0, up).UTC()
	return h, nil
}

// ScanTargetPackage reads a row of TargetPackageColumns.
func ScanTargetPackage(row Row) (repo.TargetPackage, error) {
	var tp repo.TargetPackage
	var up int64
	p := &tp.Package
	if err := row.Scan(&tp.TargetID, &tp.Target.Stream, &tp.Target.Distro, &tp.Target.Release, &p.ID, &p.Component,
		&p.Name, &p.Version, &p.Arch, &p.SHA256, &p.OrigSHA256, &p.Size, &p.Meta, &up); err != nil {
		return tp, err
	}
	p.Uploaded = time.Unix(0, up).UTC()
	return tp, nil
}

// RankHits orders the hits of a search by name as repo.SearchIndex's
// SearchNames says (by their name's place in names, then target id and
// id) and keeps at most limit.
func RankHits(hits []repo.SearchHit, names []string, limit int) []repo.SearchHit {
	rank := make(map[string]int, len(names))
	for i, n := range names {
		rank[n] = i
	}
	slices.SortFunc(hits, func(a, b repo.SearchHit) int {
		return cmp.Or(cmp.Compare(rank[a.Package.Name], rank[b.Package.Name]), cmp.Compare(a.TargetID, b.TargetID),
			cmp.Compare(a.Package.ID, b.Package.ID))
	})
	return hits[:min(len(hits), limit)]
}
