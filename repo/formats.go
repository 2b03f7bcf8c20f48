package repo

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
)

// FormatSpec wires one format into the service: the format itself, the
// digests its indexes need (computed while an upload streams to disk) and
// the distros whose targets use it.
type FormatSpec struct {
	Format  Format
	Digests []Digest
	Distros []string
}

// formatSet maps distros to their format. A reload swaps the whole map at
// once, so an ingest or publish that already looked its format up finishes
// with it.
type formatSet struct {
	byDistro atomic.Pointer[map[string]*FormatSpec]
}

// set replaces the formats; a distro mapped to two formats is refused and
// changes nothing.
func (fs *formatSet) set(formats []FormatSpec) error {
	m := map[string]*FormatSpec{}
	for i := range formats {
		f := &formats[i]
		for _, d := range f.Distros {
			if _, dup := m[d]; dup {
				return fmt.Errorf("distro %q is mapped to two formats: %w", d, ErrInvalid)
			}
			m[d] = f
		}
	}
	fs.byDistro.Store(&m)
	return nil
}

// spec returns the format spec serving distro, or an error wrapping
// ErrInvalid that names the known distros.
func (fs *formatSet) spec(distro string) (*FormatSpec, error) {
	formats := *fs.byDistro.Load()
	f, ok := formats[distro]
	if !ok {
		known := make([]string, 0, len(formats))
		for d := range formats {
			known = append(known, d)
		}
		slices.Sort(known)
		return nil, fmt.Errorf("unknown distro %q (known: %s): %w", distro, strings.Join(known, ", "), ErrInvalid)
	}
	return f, nil
}

// other returns a spec other than spec whose format recognises head, or
// nil: what an upload of the wrong format is.
func (fs *formatSet) other(spec *FormatSpec, head []byte) *FormatSpec {
	for _, o := range *fs.byDistro.Load() {
		if o != spec && o.Format.Sniff(head) {
			return o
		}
	}
	return nil
}

// name returns the name of distro's format, or "" when no format serves it
// (for observers).
func (fs *formatSet) name(distro string) string {
	if spec, err := fs.spec(distro); err == nil {
		return spec.Format.Name()
	}
	return ""
}
