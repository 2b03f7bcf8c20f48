package repo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
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

// retention holds the retention rules and works out, and applies, what
// they remove from a target. The publisher applies it inside every
// publish, under the target's lock.
type retention struct {
	d     *deps
	rules atomic.Pointer[[]RetentionRule]
}

// set replaces the rules after checking them.
func (r *retention) set(rules []RetentionRule) error {
	for _, rule := range rules {
		for _, p := range rule.Targets {
			if err := ValidatePattern(p); err != nil {
				return err
			}
		}
		if rule.KeepVersions < 0 || rule.KeepDays < 0 {
			return fmt.Errorf("retention for %v: keep_versions and keep_days must not be negative: %w", rule.Targets, ErrInvalid)
		}
	}
	rs := slices.Clone(rules)
	r.rules.Store(&rs)
	return nil
}

// of returns the retention of the first rule matching t.
func (r *retention) of(t Target) Retention {
	rs := r.rules.Load()
	if rs == nil {
		return Retention{}
	}
	for _, rule := range *rs {
		for _, p := range rule.Targets {
			if t.Matches(p) {
				return rule.Retention
			}
		}
	}
	return Retention{}
}

// plan works out what ti's retention removes from pkgs now.
func (r *retention) plan(ctx context.Context, ti *TargetInfo, f Format, pkgs []Package) ([]Package, error) {
	rule := r.of(ti.Target)
	if rule.Zero() || ti.Frozen != nil { // a frozen target's package set never changes
		return nil, nil
	}
	pins, err := r.d.cat.Pins(ctx, ti.ID)
	if err != nil {
		return nil, err
	}
	pinned := map[[2]string]bool{}
	for _, p := range pins {
		pinned[[2]string{p.Name, p.Version}] = true
	}
	// A first pass without the cross-target check finds the candidates;
	// only their sums need looking up.
	now := r.d.now()
	pre := PruneCandidates(pkgs, rule, f.Compare, func(p *Package) bool { return pinned[[2]string{p.Name, p.Version}] }, now)
	if len(pre) == 0 {
		return nil, nil
	}
	sums := make([]string, len(pre))
	for i := range pre {
		sums[i] = pre[i].SHA256
	}
	elsewhere, err := r.d.cat.LiveElsewhere(ctx, ti.ID, sums)
	if err != nil {
		return nil, err
	}
	return PruneCandidates(pkgs, rule, f.Compare, func(p *Package) bool {
		return pinned[[2]string{p.Name, p.Version}] || elsewhere[p.SHA256]
	}, now), nil
}

// apply removes what ti's retention prunes (the caller holds the publish
// lock) and returns the packages that stay and those removed.
func (r *retention) apply(ctx context.Context, ti *TargetInfo, f Format, pkgs []Package) (kept, gone []Package, err error) {
	gone, err = r.plan(ctx, ti, f, pkgs)
	if err != nil || len(gone) == 0 {
		return pkgs, nil, err
	}
	ids := make([]int64, len(gone))
	drop := map[int64]bool{}
	for i := range gone {
		ids[i] = gone[i].ID
		drop[gone[i].ID] = true
	}
	if err := r.d.cat.RemovePackages(ctx, ti.ID, ids); err != nil {
		return nil, nil, err
	}
	for _, p := range gone {
		r.d.log.Info("package pruned", "target", ti.Target.String(), "name", p.Name, "version", p.Version, "arch", p.Arch)
	}
	return slices.DeleteFunc(pkgs, func(p Package) bool { return drop[p.ID] }), gone, nil
}
