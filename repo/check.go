package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrVerify marks a generation that failed the read-back check before it
// went live: the previous generation stays current.
var ErrVerify = errors.New("generation failed verification")

// withAlias adds the alias copies of t's files when t holds its format's
// alias (see Alias). The claim is made here, at publish: on a catalog
// where nobody holds it yet, the oldest published target that wants it
// (catalogs from before claims were recorded) gets it first.
func (s *Service) withAlias(ctx context.Context, f Format, ti *TargetInfo, files []File, now time.Time) ([]File, error) {
	l, ok := f.(Layout)
	if !ok {
		return files, nil
	}
	a, ok := l.Alias(ti.Target)
	if !ok {
		return files, nil
	}
	holder, err := s.aliasHolder(ctx, l, a.Claim, ti, now)
	if err != nil {
		return nil, err
	}
	if holder != ti.ID {
		return files, nil
	}
	for _, file := range files {
		if rest, ok := strings.CutPrefix(file.Path, a.From); ok {
			c := file
			c.Path = a.To + rest
			files = append(files, c)
		}
	}
	return sortFiles(files)
}

// aliasHolder returns the id of the target holding claim, claiming it for
// the oldest published target that wants it (or ti) when nobody does.
func (s *Service) aliasHolder(ctx context.Context, l Layout, claim string, ti *TargetInfo, now time.Time) (int64, error) {
	held, err := s.cat.Aliases(ctx)
	if err != nil {
		return 0, err
	}
	if id, ok := held[claim]; ok {
		return id, nil
	}
	heads, err := s.cat.Heads(ctx)
	if err != nil {
		return 0, err
	}
	first := ti.ID
	for _, h := range heads {
		if h.Current == nil || h.ID >= first || h.Format != ti.Format {
			continue
		}
		if a, ok := l.Alias(h.Target); ok && a.Claim == claim {
			first = h.ID
		}
	}
	return s.cat.ClaimAlias(ctx, claim, first, now)
}

// sortFiles sorts files by path and drops exact duplicates; two different
// files at one path are an error.
func sortFiles(files []File) ([]File, error) {
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	for i := 1; i < len(files); i++ {
		if files[i].Path == files[i-1].Path && files[i].SHA256 != files[i-1].SHA256 {
			return nil, fmt.Errorf("two different files at %s", files[i].Path)
		}
	}
	return slices.CompactFunc(files, func(a, b File) bool { return a.Path == b.Path }), nil
}

// checkCollisions makes sure no file of t's new generation is served by
// another target with other bytes: a URL never changes which target it
// serves. (Canonical paths contain the distro and aliases are claimed
// once, so this holds by construction; the check keeps it so.)
func (s *Service) checkCollisions(t Target, files []File) error {
	v := s.view.cur.Load()
	if v == nil {
		return nil
	}
	for _, f := range files {
		sv, ok := v.files[f.Path]
		if !ok || sv.SHA256 == f.SHA256 {
			continue
		}
		for _, other := range sv.Targets {
			if other != t {
				return fmt.Errorf("%s is already published by target %s with other content; a URL never changes target: %w",
					f.Path, other, ErrConflict)
			}
		}
	}
	return nil
}

// verify reads the new generation back before it goes live: the format's
// Verifier checks roots, signatures and indexes; the core checks that
// every package file that was not in the previous generation is in the
// blob store with its size (the key is its sha256, checked when it was
// stored). data holds the index files this publish stored.
func (s *Service) verify(ctx context.Context, f Format, ti *TargetInfo, files []File, data map[string][]byte) error {
	checked := map[string]bool{}
	if ti.Current != nil {
		if m, err := s.Manifest(ctx, ti.Current); err == nil {
			for _, pf := range m {
				if pf.Kind == KindPackage {
					checked[pf.SHA256] = true
				}
			}
		}
	}
	return s.check(ctx, f, ti.Target, files, data, checked, false)
}

// check runs the read-back check of a generation's files: the package
// blobs not in checked (their sizes; with deep, their content too), then
// the format's Verifier.
func (s *Service) check(ctx context.Context, f Format, t Target, files []File, data map[string][]byte, checked map[string]bool, deep bool) error {
	fail := func(err error) error { return fmt.Errorf("%w: %s: %w", ErrVerify, t, err) }
	for _, file := range files {
		if file.Kind != KindPackage || checked[file.SHA256] {
			continue
		}
		checked[file.SHA256] = true
		size, err := s.blobs.Size(ctx, file.SHA256)
		if err != nil {
			return fail(fmt.Errorf("package %s: %w", file.Path, err))
		}
		if size != file.Size {
			return fail(fmt.Errorf("package %s: the blob store holds %d bytes, the index says %d", file.Path, size, file.Size))
		}
		if deep {
			if err := s.blobs.Check(ctx, file.SHA256); err != nil {
				return fail(fmt.Errorf("package %s: %w", file.Path, err))
			}
		}
	}
	v, ok := f.(Verifier)
	if !ok {
		return nil
	}
	read := func(ctx context.Context, file File) ([]byte, error) {
		if b, ok := data[file.SHA256]; ok {
			return b, nil
		}
		return s.blobs.ReadAll(ctx, file.SHA256)
	}
	if err := v.Verify(ctx, &VerifyInput{Target: t, Files: files, Read: read, PublicKeys: s.signer.PublicKey()}); err != nil {
		return fail(err)
	}
	return nil
}

// VerifyTarget runs the read-back check a publish runs before a generation
// goes live on t's current generation: every root verifies with the
// current keys, every index a root names is there with its size and
// hashes, every package an index names is in the blob store with its size;
// with deep, every package blob is also read and hashed. It returns the
// generation checked; an error wraps ErrVerify and names what failed.
func (s *Service) VerifyTarget(ctx context.Context, t Target, deep bool) (*Generation, error) {
	ti, err := s.FindTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	if ti.Current == nil {
		return nil, fmt.Errorf("target %s has never been published: %w", t, ErrNotFound)
	}
	spec, err := s.Spec(t.Distro)
	if err != nil {
		return nil, err
	}
	files, err := s.Manifest(ctx, ti.Current)
	if err != nil {
		return nil, err
	}
	return ti.Current, s.check(ctx, spec.Format, t, files, nil, map[string]bool{}, deep)
}

// Failing returns the targets whose publishes failed at least times in a
// row, or have been failing for at least d: what /readyz reports.
func (s *Service) Failing(ctx context.Context, times int, d time.Duration) ([]TargetInfo, error) {
	heads, err := s.Heads(ctx)
	if err != nil {
		return nil, err
	}
	var out []TargetInfo
	now := s.opts.Now()
	for _, ti := range heads {
		if ti.PublishFailures == 0 {
			continue
		}
		if ti.PublishFailures >= times || (ti.FailingSince != nil && now.Sub(*ti.FailingSince) >= d) {
			out = append(out, ti)
		}
	}
	return out, nil
}
