package repo

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// lifecycle changes what targets hold after upload: deletion, retention
// runs (prune), pins, promotion and rollback. It publishes through the
// publisher and reads the retention rules; nothing below calls it.
type lifecycle struct {
	d    *deps
	pub  *publisher
	keep *retention
}

// delete removes a package from t without publishing.
func (l *lifecycle) delete(ctx context.Context, t Target, name, version, arch string) error {
	ti, err := l.d.findTarget(ctx, t)
	if err != nil {
		return err
	}
	if err := l.d.cat.DeletePackage(ctx, ti.ID, name, version, arch); err != nil {
		return err
	}
	l.d.log.Info("package deleted", "target", t.String(), "name", name, "version", version, "arch", arch)
	return nil
}

// prune applies t's retention now (see Service.Prune).
func (l *lifecycle) prune(ctx context.Context, t Target, dryRun bool) ([]Package, *Generation, error) {
	ti, err := l.d.findTarget(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	if err := refuseFrozen(ti, "retention (prune)"); err != nil {
		return nil, nil, err
	}
	spec, err := l.d.spec(t.Distro)
	if err != nil {
		return nil, nil, err
	}
	keys, err := l.d.cat.PackageKeys(ctx, ti.ID)
	if err != nil {
		return nil, nil, err
	}
	gone, err := l.keep.plan(ctx, ti, spec.Format, keys)
	if dryRun || len(gone) == 0 || err != nil {
		return gone, nil, err
	}
	gen, pruned, err := l.pub.publishNow(ctx, t, nil)
	return pruned, gen, err
}

// pins lists t's pinned versions.
func (l *lifecycle) pins(ctx context.Context, t Target) ([]Pin, error) {
	ti, err := l.d.findTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	return l.d.cat.Pins(ctx, ti.ID)
}

// setPin pins (on) or unpins name=version in t.
func (l *lifecycle) setPin(ctx context.Context, t Target, name, version string, on bool) error {
	if name == "" || version == "" {
		return fmt.Errorf("a pin needs a package name and version: %w", ErrInvalid)
	}
	ti, err := l.d.findTarget(ctx, t)
	if err != nil {
		return err
	}
	return l.d.cat.SetPin(ctx, ti.ID, name, version, on)
}

// PackageSpec selects packages by name and, optionally, version
// ("hello" or "hello=1.2-1").
type PackageSpec struct {
	Name    string
	Version string
}

// ParsePackageSpec parses NAME[=VERSION].
func ParsePackageSpec(s string) (PackageSpec, error) {
	name, version, _ := strings.Cut(s, "=")
	if name == "" || strings.ContainsAny(name, " /") {
		return PackageSpec{}, fmt.Errorf("package %q must be NAME or NAME=VERSION: %w", s, ErrInvalid)
	}
	return PackageSpec{Name: name, Version: version}, nil
}

// String returns NAME[=VERSION].
func (p PackageSpec) String() string {
	if p.Version == "" {
		return p.Name
	}
	return p.Name + "=" + p.Version
}

// PromoteResult is one package a promotion copied (or found already there).
type PromoteResult struct {
	Package *Package `json:"package"`
	Added   bool     `json:"added"`
}

// promote copies packages from src to dst (see Service.Promote).
func (l *lifecycle) promote(ctx context.Context, src, dst Target, specs []PackageSpec) ([]PromoteResult, error) {
	f, err := l.promotable(src, dst, specs)
	if err != nil {
		return nil, err
	}
	sti, err := l.d.findTarget(ctx, src)
	if err != nil {
		return nil, err
	}
	pick, err := l.pick(ctx, f, sti, specs)
	if err != nil {
		return nil, err
	}
	dti, err := l.d.cat.Target(ctx, dst, f.Name())
	if err != nil {
		return nil, err
	}
	if err := refuseFrozen(dti, "promotion"); err != nil {
		return nil, err
	}
	copies, err := l.copies(ctx, dti, pick)
	if err != nil {
		return nil, err
	}
	// The copies reference existing blobs; hold off a collection that could
	// see the source removed and the copy not yet recorded.
	unlock, err := l.d.locks.gc(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	res, err := l.d.cat.AddPackages(ctx, dti.ID, copies)
	if err != nil {
		return nil, err
	}
	out := make([]PromoteResult, len(res))
	for i, r := range res {
		if r.Err != nil {
			return nil, r.Err
		}
		out[i] = PromoteResult{Package: r.Package, Added: r.Added}
		if r.Added {
			l.d.log.Info("package promoted", "from", src.String(), "to", dst.String(), "name", r.Package.Name,
				"version", r.Package.Version, "arch", r.Package.Arch)
		}
	}
	return out, nil
}

// promotable checks a promotion's arguments and returns the format both
// targets share.
func (l *lifecycle) promotable(src, dst Target, specs []PackageSpec) (Format, error) {
	if src == dst {
		return nil, fmt.Errorf("promote %s to itself: %w", src, ErrInvalid)
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("promote: name at least one package: %w", ErrInvalid)
	}
	sspec, err := l.d.spec(src.Distro)
	if err != nil {
		return nil, err
	}
	dspec, err := l.d.spec(dst.Distro)
	if err != nil {
		return nil, err
	}
	f := sspec.Format
	if f.Name() != dspec.Format.Name() {
		return nil, fmt.Errorf("cannot promote %s packages from %s into %s, which takes %s: %w", f.Name(), src, dst,
			dspec.Format.Name(), ErrInvalid)
	}
	return f, nil
}

// pick returns the packages of sti that specs select, with Meta: per spec
// and architecture the named version, or the highest. Every spec must
// match.
func (l *lifecycle) pick(ctx context.Context, f Format, sti *TargetInfo, specs []PackageSpec) ([]Package, error) {
	keys, err := l.d.cat.PackageKeys(ctx, sti.ID)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, sp := range specs {
		best := map[string]*Package{} // by arch
		for i := range keys {
			p := &keys[i]
			if p.Name != sp.Name || (sp.Version != "" && p.Version != sp.Version) {
				continue
			}
			if b := best[p.Arch]; b == nil || f.Compare(p.Version, b.Version) > 0 {
				best[p.Arch] = p
			}
		}
		if len(best) == 0 {
			return nil, fmt.Errorf("%s has no package %s: %w", sti.Target, sp, ErrNotFound)
		}
		for _, p := range best {
			if !slices.Contains(ids, p.ID) {
				ids = append(ids, p.ID)
			}
		}
	}
	slices.Sort(ids)
	return l.d.cat.PackagesByID(ctx, sti.ID, ids)
}

// copies returns the rows to add to dti for pick (same blobs and Meta, a
// new upload time), or a conflict when dti holds one of them with other
// bytes.
func (l *lifecycle) copies(ctx context.Context, dti *TargetInfo, pick []Package) ([]*Package, error) {
	now := l.d.now().UTC()
	copies := make([]*Package, len(pick))
	for i, p := range pick {
		c := p
		c.ID = 0
		c.Uploaded = now
		copies[i] = &c
		if old, err := l.d.cat.FindPackage(ctx, dti.ID, c.Name, c.Version, c.Arch); err == nil && !old.SameUpload(&c) {
			return nil, fmt.Errorf("%s %s (%s) already exists in %s with other content (sha256 %s): %w",
				c.Name, c.Version, c.Arch, dti.Target, old.SHA256, ErrConflict)
		}
	}
	return copies, nil
}

// generations lists t's recorded generations, newest first.
func (l *lifecycle) generations(ctx context.Context, t Target) ([]Generation, error) {
	ti, err := l.d.findTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	return l.d.cat.Generations(ctx, ti.ID, 1000)
}

// rollback republishes the package set of t's generation seq (see
// Service.Rollback).
func (l *lifecycle) rollback(ctx context.Context, t Target, seq int64) (*Generation, error) {
	if _, err := l.d.findTarget(ctx, t); err != nil {
		return nil, err
	}
	gen, _, err := l.pub.publishNow(ctx, t, func(ctx context.Context, ti *TargetInfo) (string, error) {
		g, err := l.d.cat.Generation(ctx, ti.ID, seq)
		if err != nil {
			return "", err
		}
		if err := l.d.cat.SetLivePackages(ctx, ti.ID, g.PackageIDs); err != nil {
			return "", fmt.Errorf("roll %s back to generation %d: %w", t, seq, err)
		}
		l.d.log.Info("rolled back", "target", t.String(), "to", seq, "packages", len(g.PackageIDs))
		return fmt.Sprintf("rollback to generation %d", seq), nil
	})
	return gen, err
}
