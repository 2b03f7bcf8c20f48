package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

func isConflict(err error) bool { return errors.Is(err, repo.ErrConflict) }

// nva is a package's name, version and architecture: what two files of one
// target may not share with different bytes.
type nva struct{ name, version, arch string }

func (k nva) String() string { return k.name + " " + k.version + " (" + k.arch + ")" }

// fileIdent is what resolveConflicts learns of one file.
type fileIdent struct {
	key nva
	// recorded: the target holds this file's bytes under key.
	recorded bool
}

// resolveConflicts runs when a commit found that two files of this import
// are one package with different bytes. Files are staged several at once,
// so the one the commit recorded is whichever was staged first; the rule
// is that the first file in path order is imported. It identifies every
// file that was not refused (an identical package in the target: that
// file is recorded; a conflict: the file is read for its name, version
// and architecture), and where a later file was recorded it removes that
// package and imports the first file instead (an audited delete and
// upload; nothing was published in between). Every other file of the
// group is refused, named with the file that was imported. A group whose
// recorded package is no file of this import (an upload meanwhile) is
// left as it is and its files refused.
func (im *importer) resolveConflicts(ctx context.Context, files []string) error {
	t := im.t
	ids, groups, err := im.identify(ctx, files)
	if err != nil {
		return err
	}
	keys := make([]nva, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y nva) int { return strings.Compare(groups[x][0], groups[y][0]) })
	losers := 0
	for _, key := range keys {
		group := groups[key] // files in path order
		var recorded []string
		conflicting := false
		for _, f := range group {
			if ids[f].recorded {
				recorded = append(recorded, f)
			} else {
				conflicting = true
			}
		}
		if !conflicting {
			continue
		}
		first := group[0]
		switch {
		case len(recorded) == 0:
			for _, f := range group {
				im.report(f, nil, fmt.Errorf("%s is in %s with other bytes, uploaded while this import ran: %w", key, t, repo.ErrConflict))
				losers++
			}
			continue
		case !ids[first].recorded:
			if err := im.replace(ctx, key, first, recorded[0]); err != nil {
				return err
			}
			ids[first] = fileIdent{key: key, recorded: true}
			for _, f := range recorded {
				ids[f] = fileIdent{key: key}
			}
		}
		for _, f := range group {
			if ids[f].recorded {
				continue
			}
			im.report(f, nil, fmt.Errorf("%s is also in %s, with other bytes: %s was imported (the first in path order): %w",
				key, first, first, repo.ErrConflict))
			losers++
		}
	}
	// Conflicts no file accounts for (cannot happen unless files changed
	// during the import) are reported as the commit found them.
	for i := losers; i < im.commitConflicts && i < len(im.commitConflictErrors); i++ {
		im.report("package", nil, im.commitConflictErrors[i])
	}
	return nil
}

// identify learns, for every file not refused while staging, its
// package and whether the target holds its bytes; groups lists the files
// of each package in path order.
func (im *importer) identify(ctx context.Context, files []string) (map[string]fileIdent, map[nva][]string, error) {
	probe := im.a.svc.NewBatch(im.t)
	defer probe.Close()
	ids := map[string]fileIdent{}
	groups := map[nva][]string{}
	for _, f := range files {
		if im.refused[f] {
			continue
		}
		res, err := importFile(ctx, probe, f, im.component, false)
		var id fileIdent
		switch {
		case err == nil && res != nil:
			id = fileIdent{key: nva{res.Package.Name, res.Package.Version, res.Package.Arch}, recorded: true}
		case isConflict(err):
			p, rerr := readIdent(ctx, im.spec, f)
			if rerr != nil {
				return nil, nil, rerr
			}
			id = fileIdent{key: nva{p.Name, p.Version, p.Arch}}
		case err == nil:
			continue // neither there nor in conflict: its package went meanwhile
		default:
			return nil, nil, fmt.Errorf("%s: %w", f, err)
		}
		ids[f] = id
		groups[id.key] = append(groups[id.key], f)
	}
	return ids, groups, nil
}

// replace removes the package key that the file recorded holds and
// imports first instead.
func (im *importer) replace(ctx context.Context, key nva, first, recorded string) error {
	a, t := im.a, im.t
	why := fmt.Sprintf("two files of one pier import are %s: %s comes first in path order, not %s", key, first, recorded)
	ev := cliEvent(audit.Delete, t, map[string]string{"name": key.name, "version": key.version, "arch": key.arch,
		"via": "pier import", "reason": why})
	if err := a.svc.Delete(audit.WithEvent(ctx, ev), t, key.name, key.version, key.arch); err != nil {
		return fmt.Errorf("replace %s: %w", key, err)
	}
	settleCLI(ctx, a, ev)
	b := a.svc.NewBatch(t)
	defer b.Close()
	res, err := importFile(ctx, b, first, im.component, im.link)
	if err != nil {
		return fmt.Errorf("replace %s with %s: %w", key, first, err)
	}
	if res == nil {
		up := cliEvent(audit.Upload, t, map[string]any{"via": "pier import", "reason": why})
		_, errs, err := b.Commit(audit.WithEvent(ctx, up))
		if err != nil {
			return fmt.Errorf("replace %s with %s: %w", key, first, err)
		}
		if len(errs) == 1 && errs[0] != nil {
			return fmt.Errorf("replace %s with %s: %w", key, first, errs[0])
		}
	}
	return nil
}

// readIdent reads the name, version and architecture of the package file
// path with the target's format reader.
func readIdent(ctx context.Context, spec *repo.FormatSpec, path string) (*repo.Parsed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	p, err := spec.Format.Read(ctx, f, size, repo.Sums{repo.SHA256: hex.EncodeToString(h.Sum(nil))})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
