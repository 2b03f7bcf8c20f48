package rpm

import "github.com/pierhq/pier/repo"

var _ repo.Layout = (*Format)(nil)

// Prefixes implements repo.Layout: everything of a target is under
// rpm/<stream>/<distro>/<release>/.
func (f *Format) Prefixes(t repo.Target) []string {
	return []string{"rpm/" + t.Stream + "/" + t.Distro + "/" + t.Release + "/"}
}

// Alias implements repo.Layout: rpm paths always contained the distro, so
// there is no alias.
func (f *Format) Alias(t repo.Target) (repo.Alias, bool) { return repo.Alias{}, false }
