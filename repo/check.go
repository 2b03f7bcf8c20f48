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
func (p *publisher) withAlias(ctx context.Context, f Format, ti *TargetInfo, files []File, now time.Time) ([]File, error) {
	l, ok := f.(Layout)
	if !ok {
		return files, nil
	}
	a, ok := l.Alias(ti.Target)
	if !ok {
		return files, nil
	}
	holder, err := p.aliasHolder(ctx, l, a.Claim, ti, now)
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
func (p *publisher) aliasHolder(ctx context.Context, l Layout, claim string, ti *TargetInfo, now time.Time) (int64, error) {
	held, err := p.d.cat.Aliases(ctx)
	if err != nil {
		return 0, err
	}
	if id, ok := held[claim]; ok {
		return id, nil
	}
	heads, err := p.d.cat.Heads(ctx)
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
	return p.d.cat.ClaimAlias(ctx, claim, first, now)
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

// verify reads the new generation back before it goes live: the format's
// Verifier checks roots, signatures and indexes; the core checks that
// every package file that was not in the previous generation is in the
// blob store with its size (the key is its sha256, checked when it was
// stored). data holds the index files this publish stored.
func (p *publisher) verify(ctx context.Context, f Format, ti *TargetInfo, files []File, data map[string][]byte) error {
	checked := map[string]bool{}
	if ti.Current != nil {
		if m, err := p.view.manifest(ctx, ti.Current.Manifest); err == nil {
			for _, pf := range m {
				if pf.Kind == KindPackage {
					checked[pf.SHA256] = true
				}
			}
		}
	}
	return p.check(ctx, f, ti.Target, files, data, checked, false)
}

// check runs the read-back check of a generation's files: the package
// blobs not in checked (their sizes; with deep, their content too), then
// the format's Verifier.
func (p *publisher) check(ctx context.Context, f Format, t Target, files []File, data map[string][]byte, checked map[string]bool, deep bool) error {
	fail := func(err error) error { return fmt.Errorf("%w: %s: %w", ErrVerify, t, err) }
	for _, file := range files {
		if file.Kind != KindPackage || checked[file.SHA256] {
			continue
		}
		checked[file.SHA256] = true
		if err := p.checkPackage(ctx, file, deep); err != nil {
			return fail(err)
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
		return p.d.blobs.ReadAll(ctx, file.SHA256)
	}
	if err := v.Verify(ctx, &VerifyInput{Target: t, Files: files, Read: read, PublicKeys: p.d.signer.PublicKey()}); err != nil {
		return fail(err)
	}
	return nil
}

// checkPackage checks that a package file's blob is stored with its size
// and, with deep, that its content hashes to its name.
func (p *publisher) checkPackage(ctx context.Context, file File, deep bool) error {
	size, err := p.d.blobs.Size(ctx, file.SHA256)
	if err != nil {
		return fmt.Errorf("package %s: %w", file.Path, err)
	}
	if size != file.Size {
		return fmt.Errorf("package %s: the blob store holds %d bytes, the index says %d", file.Path, size, file.Size)
	}
	if deep {
		if err := p.d.blobs.Check(ctx, file.SHA256); err != nil {
			return fmt.Errorf("package %s: %w", file.Path, err)
		}
	}
	return nil
}

// verifyTarget runs the read-back check on t's current generation (see
// Service.VerifyTarget).
func (p *publisher) verifyTarget(ctx context.Context, t Target, deep bool) (*Generation, error) {
	ti, err := p.d.findTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	if ti.Current == nil {
		return nil, fmt.Errorf("target %s has never been published: %w", t, ErrNotFound)
	}
	spec, err := p.d.spec(t.Distro)
	if err != nil {
		return nil, err
	}
	files, err := p.view.manifest(ctx, ti.Current.Manifest)
	if err != nil {
		return nil, err
	}
	return ti.Current, p.check(ctx, spec.Format, t, files, nil, map[string]bool{}, deep)
}
