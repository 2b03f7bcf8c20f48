package apk

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/pierhq/pier/internal/panics"
	"github.com/pierhq/pier/repo"
)

// indexJob is one APKINDEX.tar.gz to write: a component × architecture.
type indexJob struct {
	component, arch string
	pkgs            []*repo.Package // sorted, as published in this directory
	data            []byte
	err             error
}

// Index writes the target's repositories (FORMATS.md 3.4): for every
// component and architecture, the package files and a signed
// APKINDEX.tar.gz. Components are the configured ones plus those of the
// packages; architectures likewise, noarch packages going into every
// architecture. When a name and version exist both for an architecture and
// as noarch, the architecture's package wins in that directory.
func (f *Format) Index(ctx context.Context, in *repo.IndexInput) ([]repo.File, error) {
	t := in.Target
	for _, part := range []string{t.Stream, t.Release} {
		if err := validComponent(part); err != nil {
			return nil, fmt.Errorf("apk: index %s: target: %w", t, err)
		}
	}
	comps := map[string][]*repo.Package{}
	for _, c := range f.cfg.Components {
		comps[c] = nil
	}
	arches := map[string]bool{}
	for _, a := range f.cfg.Architectures {
		arches[a] = true
	}
	for i := range in.Packages {
		p := &in.Packages[i]
		if err := checkPackage(p); err != nil {
			return nil, fmt.Errorf("apk: index %s: %w", t, err)
		}
		comps[p.Component] = append(comps[p.Component], p)
		if p.Arch != noarch {
			arches[p.Arch] = true
		}
	}
	archList := sortedKeys(arches)
	var jobs []*indexJob
	for _, c := range sortedKeys(comps) {
		pkgs := comps[c]
		slices.SortFunc(pkgs, comparePackages)
		for _, a := range archList {
			sel, err := selectArch(pkgs, a)
			if err != nil {
				return nil, fmt.Errorf("apk: index %s: %s/%s: %w", t, c, a, err)
			}
			jobs = append(jobs, &indexJob{component: c, arch: a, pkgs: sel})
		}
	}
	if err := f.runJobs(ctx, t, in.Time, jobs); err != nil {
		return nil, err
	}

	var files []repo.File
	for _, j := range jobs {
		dir := repoDir(t, j.component, j.arch)
		for _, p := range j.pkgs {
			files = append(files, repo.File{Path: dir + "/" + packageFile(p.Name, p.Version),
				SHA256: p.SHA256, Size: p.Size, Kind: repo.KindPackage})
		}
		files = append(files, repo.File{Path: dir + "/APKINDEX.tar.gz", Kind: repo.KindRoot, Data: j.data})
	}
	slices.SortFunc(files, func(a, b repo.File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// runJobs builds the indexes in parallel; results land in the jobs, so the
// output does not depend on scheduling.
func (f *Format) runJobs(ctx context.Context, t repo.Target, now time.Time, jobs []*indexJob) error {
	work := make(chan *indexJob)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				if err := ctx.Err(); err != nil {
					j.err = err
					continue
				}
				func() { // per job: a worker that hit a bug goes on taking jobs
					defer panics.Recover(&j.err)
					j.data, j.err = f.buildIndex(t, j.component, j.pkgs, now)
				}()
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	for _, j := range jobs {
		if j.err != nil {
			return fmt.Errorf("apk: index %s: %s/%s: %w", t, j.component, j.arch, j.err)
		}
	}
	return nil
}

// checkPackage checks what Index takes from the catalog: the names that
// become paths and the stanza that goes into the index as it is.
func checkPackage(p *repo.Package) error {
	if err := validComponent(p.Component); err != nil {
		return fmt.Errorf("package %s %s: %w", p.Name, p.Version, err)
	}
	if err := validName(p.Name, 1024); err != nil {
		return fmt.Errorf("package %q: %w", p.Name, err)
	}
	if !validPkgver(p.Version) {
		return fmt.Errorf("package %s: version %q is not a valid apk version", p.Name, p.Version)
	}
	if err := validArch(p.Arch); err != nil {
		return fmt.Errorf("package %s %s: %w", p.Name, p.Version, err)
	}
	m := p.Meta
	if !bytes.HasPrefix(m, []byte("C:Q1")) || len(m) == 0 || m[len(m)-1] != '\n' ||
		bytes.Contains(m, []byte("\n\n")) ||
		!bytes.Contains(m, []byte("\nP:"+p.Name+"\nV:"+p.Version+"\nA:"+p.Arch+"\n")) {
		return fmt.Errorf("package %s %s %s: catalog metadata is not an apk index stanza for it", p.Name, p.Version, p.Arch)
	}
	return nil
}

// comparePackages orders by name, then apk version, then the raw version
// and architecture so that the order is total. The version comparison
// runs only between packages of one name (cmp.Or would evaluate it for
// every pair a sort compares: most of a 10,000-package sort's time).
func comparePackages(a, b *repo.Package) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return cmp.Or(
		CompareVersions(a.Version, b.Version),
		strings.Compare(a.Version, b.Version),
		strings.Compare(a.Arch, b.Arch),
	)
}

// selectArch returns the packages of arch a (and noarch) from sorted pkgs.
// A name-version published as both arch and noarch keeps the arch package:
// both would be the same file name.
func selectArch(pkgs []*repo.Package, a string) ([]*repo.Package, error) {
	var out []*repo.Package
	for _, p := range pkgs {
		if p.Arch != a && p.Arch != noarch {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Name == p.Name && out[n-1].Version == p.Version {
			prev := out[n-1]
			switch {
			case prev.Arch == noarch && p.Arch != noarch:
				out[n-1] = p
			case p.Arch == noarch && prev.Arch != noarch:
			default:
				return nil, fmt.Errorf("package %s %s (%s) is in the catalog twice", p.Name, p.Version, p.Arch)
			}
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// buildIndex writes one APKINDEX.tar.gz: a signature stream (when there is
// a signer) followed by the index stream.
func (f *Format) buildIndex(t repo.Target, component string, pkgs []*repo.Package, now time.Time) ([]byte, error) {
	size := 0
	for _, p := range pkgs {
		size += len(p.Meta) + 1
	}
	text := make([]byte, 0, size)
	for _, p := range pkgs {
		text = append(text, p.Meta...)
		text = append(text, '\n')
	}
	desc := fmt.Sprintf("Pier %s %s %s", t.Stream, t.Release, component)
	mtime := now.UTC().Truncate(time.Second)

	var idx bytes.Buffer
	idx.Grow(len(text)/4 + 1024)
	if err := f.writeTarGz(&idx, mtime, true, []tarEntry{
		{"DESCRIPTION", []byte(desc)},
		{"APKINDEX", text},
	}); err != nil {
		return nil, fmt.Errorf("write index: %w", err)
	}
	if f.signer == nil {
		return idx.Bytes(), nil
	}
	sig, err := f.signer.SignSHA1(idx.Bytes())
	if err != nil {
		return nil, fmt.Errorf("sign index: %w", err)
	}
	name := f.signer.KeyName()
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return nil, fmt.Errorf("sign index: key name %q is not a file name", name)
	}
	var out bytes.Buffer
	out.Grow(idx.Len() + len(sig) + 1024)
	if err := f.writeTarGz(&out, mtime, false, []tarEntry{{".SIGN.RSA." + name, sig}}); err != nil {
		return nil, fmt.Errorf("write index signature: %w", err)
	}
	out.Write(idx.Bytes())
	return out.Bytes(), nil
}

type tarEntry struct {
	name string
	data []byte
}

// writeTarGz writes entries as one gzip member. A complete tar ends with
// end-of-archive blocks; a cut one (the signature stream) does not.
func (f *Format) writeTarGz(w *bytes.Buffer, mtime time.Time, complete bool, entries []tarEntry) error {
	zw, err := gzip.NewWriterLevel(w, f.cfg.CompressionLevel)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.name,
			Size:     int64(len(e.data)),
			Mode:     0o644,
			ModTime:  mtime,
			Uname:    "root",
			Gname:    "root",
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	if complete {
		err = tw.Close()
	} else {
		err = tw.Flush() // pads the last entry, writes no end-of-archive blocks
	}
	if err != nil {
		return err
	}
	return zw.Close()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
