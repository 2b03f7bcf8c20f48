package repo

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Retention says which versions of a target's packages a publish keeps.
// Pinned versions and versions whose bytes are live in another target
// (promoted) are always kept and do not count against KeepVersions.
type Retention struct {
	// KeepVersions keeps the N highest versions, by the format's version
	// order, of each package name and architecture; 0 keeps all.
	KeepVersions int `yaml:"keep_versions" json:"keep_versions"`
	// KeepDays removes versions uploaded more than N days ago, except the
	// highest version of each package name and architecture; 0 keeps all.
	KeepDays int `yaml:"keep_days" json:"keep_days"`
}

// Zero reports whether r keeps everything.
func (r Retention) Zero() bool { return r.KeepVersions <= 0 && r.KeepDays <= 0 }

// RetentionRule applies a Retention to the targets matching any of its
// stream/distro/release glob patterns.
type RetentionRule struct {
	Targets   []string `yaml:"targets" json:"targets"`
	Retention `yaml:",inline"`
}

// ValidatePattern checks a stream/distro/release glob pattern.
func ValidatePattern(p string) error {
	if strings.Count(p, "/") != 2 {
		return fmt.Errorf("target pattern %q must be stream/distro/release globs: %w", p, ErrInvalid)
	}
	if _, err := path.Match(p, "s/d/r"); err != nil {
		return fmt.Errorf("target pattern %q: %v: %w", p, err, ErrInvalid)
	}
	return nil
}

// Matches reports whether t matches the stream/distro/release pattern p.
func (t Target) Matches(p string) bool {
	ok, _ := path.Match(p, t.String())
	return ok
}

// SetRetention replaces the retention rules (a config reload). The first
// rule whose pattern matches a target applies to it.
func (s *Service) SetRetention(rules []RetentionRule) error {
	for _, r := range rules {
		for _, p := range r.Targets {
			if err := ValidatePattern(p); err != nil {
				return err
			}
		}
		if r.KeepVersions < 0 || r.KeepDays < 0 {
			return fmt.Errorf("retention for %v: keep_versions and keep_days must not be negative: %w", r.Targets, ErrInvalid)
		}
	}
	rs := slices.Clone(rules)
	s.retention.Store(&rs)
	return nil
}

// RetentionFor returns the retention that applies to t.
func (s *Service) RetentionFor(t Target) Retention {
	rs := s.retention.Load()
	if rs == nil {
		return Retention{}
	}
	for _, r := range *rs {
		for _, p := range r.Targets {
			if t.Matches(p) {
				return r.Retention
			}
		}
	}
	return Retention{}
}

// PruneCandidates returns the packages of pkgs that r removes, given the
// pinned name=version pairs, the sha256 of packages that other targets hold
// (keep reports whether a package must stay for either reason) and the
// time now. cmp is the format's version order.
func PruneCandidates(pkgs []Package, r Retention, cmp func(a, b string) int, keep func(*Package) bool, now time.Time) []Package {
	if r.Zero() {
		return nil
	}
	type key struct{ name, arch string }
	groups := map[key][]*Package{}
	for i := range pkgs {
		p := &pkgs[i]
		k := key{p.Name, p.Arch}
		groups[k] = append(groups[k], p)
	}
	var out []Package
	for _, g := range groups {
		// Highest first; equal versions (impossible in one target) by id.
		slices.SortFunc(g, func(a, b *Package) int {
			if c := cmp(b.Version, a.Version); c != 0 {
				return c
			}
			return int(a.ID - b.ID)
		})
		rank := 0
		for i, p := range g {
			if keep(p) {
				continue
			}
			tooMany := r.KeepVersions > 0 && rank >= r.KeepVersions
			tooOld := r.KeepDays > 0 && i > 0 && now.Sub(p.Uploaded) > time.Duration(r.KeepDays)*24*time.Hour
			rank++
			if tooMany || tooOld {
				out = append(out, *p)
			}
		}
	}
	slices.SortFunc(out, func(a, b Package) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := strings.Compare(a.Arch, b.Arch); c != 0 {
			return c
		}
		return cmp(a.Version, b.Version)
	})
	return out
}

// pruneCandidates works out what t's retention removes from pkgs now.
func (s *Service) pruneCandidates(ctx context.Context, ti *TargetInfo, f Format, pkgs []Package) ([]Package, error) {
	r := s.RetentionFor(ti.Target)
	if r.Zero() {
		return nil, nil
	}
	pins, err := s.cat.Pins(ctx, ti.ID)
	if err != nil {
		return nil, err
	}
	pinned := map[[2]string]bool{}
	for _, p := range pins {
		pinned[[2]string{p.Name, p.Version}] = true
	}
	// A first pass without the cross-target check finds the candidates;
	// only their sums need looking up.
	pre := PruneCandidates(pkgs, r, f.Compare, func(p *Package) bool { return pinned[[2]string{p.Name, p.Version}] }, s.opts.Now())
	if len(pre) == 0 {
		return nil, nil
	}
	sums := make([]string, len(pre))
	for i := range pre {
		sums[i] = pre[i].SHA256
	}
	elsewhere, err := s.cat.LiveElsewhere(ctx, ti.ID, sums)
	if err != nil {
		return nil, err
	}
	return PruneCandidates(pkgs, r, f.Compare, func(p *Package) bool {
		return pinned[[2]string{p.Name, p.Version}] || elsewhere[p.SHA256]
	}, s.opts.Now()), nil
}

// applyRetention removes what t's retention prunes (under the publish lock)
// and returns the packages that stay and those removed.
func (s *Service) applyRetention(ctx context.Context, ti *TargetInfo, f Format, pkgs []Package) (kept, gone []Package, err error) {
	gone, err = s.pruneCandidates(ctx, ti, f, pkgs)
	if err != nil || len(gone) == 0 {
		return pkgs, nil, err
	}
	ids := make([]int64, len(gone))
	drop := map[int64]bool{}
	for i := range gone {
		ids[i] = gone[i].ID
		drop[gone[i].ID] = true
	}
	if err := s.cat.RemovePackages(ctx, ti.ID, ids); err != nil {
		return nil, nil, err
	}
	for _, p := range gone {
		s.log.Info("package pruned", "target", ti.Target.String(), "name", p.Name, "version", p.Version, "arch", p.Arch)
	}
	return slices.DeleteFunc(pkgs, func(p Package) bool { return drop[p.ID] }), gone, nil
}

// Prune applies t's retention now. With dryRun it only returns what would
// go (reading no package metadata); otherwise, when something goes, the
// removal and a new generation happen in one publish.
func (s *Service) Prune(ctx context.Context, t Target, dryRun bool) ([]Package, *Generation, error) {
	ti, err := s.FindTarget(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	spec, err := s.Spec(t.Distro)
	if err != nil {
		return nil, nil, err
	}
	keys, err := s.cat.PackageKeys(ctx, ti.ID)
	if err != nil {
		return nil, nil, err
	}
	gone, err := s.pruneCandidates(ctx, ti, spec.Format, keys)
	if dryRun || len(gone) == 0 || err != nil {
		return gone, nil, err
	}
	gen, pruned, err := s.publishWith(ctx, t, nil)
	return pruned, gen, err
}

// Pins lists t's pinned versions.
func (s *Service) Pins(ctx context.Context, t Target) ([]Pin, error) {
	ti, err := s.FindTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	return s.cat.Pins(ctx, ti.ID)
}

// SetPin pins (on) or unpins name=version in t: a pinned version is never
// pruned. The version need not be uploaded yet.
func (s *Service) SetPin(ctx context.Context, t Target, name, version string, on bool) error {
	if name == "" || version == "" {
		return fmt.Errorf("a pin needs a package name and version: %w", ErrInvalid)
	}
	ti, err := s.FindTarget(ctx, t)
	if err != nil {
		return err
	}
	return s.cat.SetPin(ctx, ti.ID, name, version, on)
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

// Promote copies packages from src to dst (targets of the same format)
// without re-upload: the copies name the same blobs. A spec without a
// version takes the highest version of each architecture. Nothing is copied
// unless every spec matches and none conflicts with dst. It does not
// publish.
func (s *Service) Promote(ctx context.Context, src, dst Target, specs []PackageSpec) ([]PromoteResult, error) {
	if src == dst {
		return nil, fmt.Errorf("promote %s to itself: %w", src, ErrInvalid)
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("promote: name at least one package: %w", ErrInvalid)
	}
	sspec, err := s.Spec(src.Distro)
	if err != nil {
		return nil, err
	}
	dspec, err := s.Spec(dst.Distro)
	if err != nil {
		return nil, err
	}
	f := sspec.Format
	if f.Name() != dspec.Format.Name() {
		return nil, fmt.Errorf("cannot promote %s packages from %s into %s, which takes %s: %w", f.Name(), src, dst,
			dspec.Format.Name(), ErrInvalid)
	}
	sti, err := s.FindTarget(ctx, src)
	if err != nil {
		return nil, err
	}
	keys, err := s.cat.PackageKeys(ctx, sti.ID)
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
			return nil, fmt.Errorf("%s has no package %s: %w", src, sp, ErrNotFound)
		}
		for _, p := range best {
			if !slices.Contains(ids, p.ID) {
				ids = append(ids, p.ID)
			}
		}
	}
	slices.Sort(ids)
	pick, err := s.cat.PackagesByID(ctx, sti.ID, ids) // with Meta, for the copies
	if err != nil {
		return nil, err
	}
	dti, err := s.cat.Target(ctx, dst, f.Name())
	if err != nil {
		return nil, err
	}
	now := s.opts.Now().UTC()
	copies := make([]*Package, len(pick))
	for i, p := range pick {
		c := p
		c.ID = 0
		c.Uploaded = now
		copies[i] = &c
		if old, err := s.cat.FindPackage(ctx, dti.ID, c.Name, c.Version, c.Arch); err == nil && !old.SameUpload(&c) {
			return nil, fmt.Errorf("%s %s (%s) already exists in %s with other content (sha256 %s): %w",
				c.Name, c.Version, c.Arch, dst, old.SHA256, ErrConflict)
		}
	}
	// The copies reference existing blobs; hold off a collection that could
	// see the source removed and the copy not yet recorded.
	unlock, err := s.gcLock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	res, err := s.cat.AddPackages(ctx, dti.ID, copies)
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
			s.log.Info("package promoted", "from", src.String(), "to", dst.String(), "name", r.Package.Name,
				"version", r.Package.Version, "arch", r.Package.Arch)
		}
	}
	return out, nil
}

// Generations lists t's recorded generations, newest first: the retained
// ones and any older ones garbage collection has not forgotten yet.
func (s *Service) Generations(ctx context.Context, t Target) ([]Generation, error) {
	ti, err := s.FindTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	return s.cat.Generations(ctx, ti.ID, 1000)
}

// Rollback republishes the package set of t's generation seq as a new
// generation (roots signed afresh with a new Date), in one step under the
// target's publish lock.
func (s *Service) Rollback(ctx context.Context, t Target, seq int64) (*Generation, error) {
	if _, err := s.FindTarget(ctx, t); err != nil {
		return nil, err
	}
	gen, _, err := s.publishWith(ctx, t, func(ctx context.Context, ti *TargetInfo) (string, error) {
		g, err := s.cat.Generation(ctx, ti.ID, seq)
		if err != nil {
			return "", err
		}
		if err := s.cat.SetLivePackages(ctx, ti.ID, g.PackageIDs); err != nil {
			return "", fmt.Errorf("roll %s back to generation %d: %w", t, seq, err)
		}
		s.log.Info("rolled back", "target", t.String(), "to", seq, "packages", len(g.PackageIDs))
		return fmt.Sprintf("rollback to generation %d", seq), nil
	})
	return gen, err
}
