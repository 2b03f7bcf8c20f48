package deb

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pierhq/pier/repo"
)

var _ repo.Expirer = (*Format)(nil)

// Expiry reads the Valid-Until and Date fields of the generation's Release
// (deb/<stream>/<distro>/dists/<release>/Release, or the distro-less path
// of generations published before canonical paths) and says when to re-sign it:
// Config.ResignMargin before Valid-Until, or a third of the Release's
// validity when no margin is configured. It reads the published bytes, not
// the configuration, so a Release written under another valid_days is
// still re-signed in time. ok is false when the Release has no Valid-Until.
func (f *Format) Expiry(ctx context.Context, t repo.Target, files []repo.File, read func(repo.File) ([]byte, error)) (repo.Expiry, bool, error) {
	paths := []string{base(t) + "dists/" + t.Release + "/Release", "deb/" + t.Stream + "/dists/" + t.Release + "/Release"}
	for _, path := range paths {
		i := slices.IndexFunc(files, func(f repo.File) bool { return f.Path == path })
		if i < 0 {
			continue
		}
		file := files[i]
		data, err := read(file)
		if err != nil {
			return repo.Expiry{}, false, fmt.Errorf("deb: read %s: %w", path, err)
		}
		date, until, err := releaseDates(data)
		if err != nil {
			return repo.Expiry{}, false, fmt.Errorf("deb: %s: %w", path, err)
		}
		if until.IsZero() {
			return repo.Expiry{}, false, nil
		}
		margin := f.cfg.ResignMargin
		if margin <= 0 || margin >= until.Sub(date) {
			margin = until.Sub(date) / 3
		}
		return repo.Expiry{ValidUntil: until, ResignAt: until.Add(-margin)}, true, nil
	}
	return repo.Expiry{}, false, nil
}

// releaseDates returns the Date and Valid-Until fields of a Release file
// (zero when absent); Date defaults to Valid-Until when missing.
func releaseDates(data []byte) (date, until time.Time, err error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue // a continuation line of a multi-line field
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *time.Time
		switch strings.ToLower(name) {
		case "date":
			dst = &date
		case "valid-until":
			dst = &until
		default:
			continue
		}
		v, perr := time.Parse(dateLayout, strings.TrimSpace(value))
		if perr != nil {
			return date, until, fmt.Errorf("field %s: %w", name, perr)
		}
		*dst = v
	}
	if err := sc.Err(); err != nil {
		return date, until, err
	}
	if date.IsZero() {
		date = until
	}
	return date, until, nil
}
