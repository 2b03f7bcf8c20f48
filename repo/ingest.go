package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/storage"
)

// IngestOptions qualifies one upload.
type IngestOptions struct {
	// Component is the deb component or apk repository ("main" if empty).
	Component string
	// Audit, when set, returns the audit event of the upload of p, called
	// once p is about to be recorded: the catalog writes it in the same
	// transaction as the package (Recorded tells whether it did; a
	// re-upload of the same bytes changes nothing and records nothing).
	Audit func(p *Package) *audit.Event
}

// IngestResult reports what an upload did.
type IngestResult struct {
	Package *Package
	// Created is false when a byte-identical package was already there.
	Created bool
	Target  *TargetInfo
	// Path is where the package is published, when the format can tell.
	Path string
}

// ingester receives packages: it streams an upload to a temp file while
// hashing it, has the target's format parse (and maybe rewrite) it, moves
// it into the blob store and records it in the catalog. It never
// publishes.
type ingester struct {
	d *deps
	// owner tags this process's upload files in TmpDir, so that a cleanup
	// by another process never takes them for a dead writer's.
	owner     *storage.Owner
	closeOnce sync.Once
}

// newIngester removes the upload leftovers of processes that are no longer
// running (a crash) and tags this process's own; those of a live process
// (pier import beside pier serve) stay.
func newIngester(d *deps) (*ingester, error) {
	if err := storage.CleanDead(d.opts.TmpDir, uploadPrefix, '-'); err != nil {
		return nil, fmt.Errorf("remove dead uploads: %w", err)
	}
	owner, err := storage.NewOwner(d.opts.TmpDir)
	if err != nil {
		return nil, fmt.Errorf("tag upload files: %w", err)
	}
	return &ingester{d: d, owner: owner}, nil
}

// close releases the process's upload files (a later cleanup removes what
// is left of them).
func (in *ingester) close() { in.closeOnce.Do(func() { in.owner.Close() }) }

// ingest stores and records one upload to t (see Service.Ingest).
func (in *ingester) ingest(ctx context.Context, t Target, r io.Reader, o IngestOptions) (res *IngestResult, err error) {
	if obs := in.d.opts.Observer; obs != nil {
		defer func() { obs.Ingested(t, in.d.formats.name(t.Distro), res != nil && res.Created, err) }()
	}
	st, done, err := in.stage(ctx, t, in.fromReader(r), o, in.catalogLookup(t), true)
	if err != nil || done != nil {
		return done, err
	}
	defer st.unlock()
	if o.Audit != nil {
		ctx = audit.WithEvent(ctx, o.Audit(st.pkg))
	}
	got, created, err := in.d.cat.AddPackage(ctx, st.target.ID, st.pkg)
	if err != nil {
		return nil, err
	}
	return in.recorded(t, st, got, created), nil
}

// staged is a package whose bytes are in the blob store and which is not
// recorded in the catalog yet.
type staged struct {
	target *TargetInfo
	spec   *FormatSpec
	pkg    *Package
	// unlock releases the garbage-collection lock a durable stage takes
	// before it stores the blob; the caller calls it once the package is
	// recorded. A batch holds one lock for all its packages instead.
	unlock func()
}

func (in *ingester) recorded(t Target, st *staged, got *Package, created bool) *IngestResult {
	in.d.hook("upload.recorded")
	if created {
		in.d.log.Info("package added", "target", t.String(), "name", got.Name, "version", got.Version, "arch", got.Arch,
			"sha256", got.SHA256, "size", got.Size)
	}
	return &IngestResult{Package: got, Created: created, Target: st.target, Path: packagePath(st.spec.Format, t, got)}
}

// stage receives, checks and stores one package; look finds its target
// and the packages it holds. When the package is already recorded it
// returns the final result instead (or a conflict). A durable stage
// stores the blob durably under the shared gc lock; otherwise (a batch,
// which holds the lock) the blob is moved into place without a sync, and
// the caller syncs the blob store before recording it.
func (in *ingester) stage(ctx context.Context, t Target, src source, o IngestOptions, look lookupFunc, durable bool) (*staged, *IngestResult, error) {
	spec, err := in.accepts(t, &o)
	if err != nil {
		return nil, nil, err
	}
	up, parsed, err := in.take(ctx, spec, src, durable)
	if err != nil {
		return nil, nil, err
	}
	defer up.discard()
	if len(parsed.Needs) > 0 {
		return nil, nil, BadPackage(fmt.Sprintf("this package lists %s, which the upload does not contain: send it with every file it lists in one upload (the API's sources or changes upload; pier push FILE.dsc)",
			parsed.Needs[0].Name))
	}
	ti, find, err := look(ctx, spec.Format.Name())
	if err != nil {
		return nil, nil, err
	}
	if err := refuseFrozen(ti, "upload"); err != nil {
		return nil, nil, err
	}
	p := &Package{Component: o.Component, Name: parsed.Name, Version: parsed.Version, Arch: parsed.Arch,
		Size: up.size, Sums: up.sums, SHA256: up.sums[SHA256], Meta: parsed.Meta, Uploaded: in.d.now().UTC()}
	if done, err := existing(t, spec, ti, p, find); done != nil || err != nil {
		return nil, done, err
	}
	up2, err := in.rewritten(ctx, spec, t, up, p, durable)
	if err != nil {
		return nil, nil, err
	}
	if up2 != nil {
		defer up2.discard()
		up = up2
	}
	unlock, err := in.store(ctx, p, up, durable)
	if err != nil {
		return nil, nil, err
	}
	return &staged{target: ti, spec: spec, pkg: p, unlock: unlock}, nil, nil
}

// accepts checks the target and the component of an upload (filling in
// the default component) and returns the target's format.
func (in *ingester) accepts(t Target, o *IngestOptions) (*FormatSpec, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if o.Component == "" {
		o.Component = "main"
	}
	if !nameRE.MatchString(o.Component) {
		return nil, fmt.Errorf("component %q must be letters, digits or ._+~-: %w", o.Component, ErrInvalid)
	}
	return in.d.spec(t.Distro)
}

// take receives an upload from src and parses it with spec's format. The
// format is checked on the first bytes while they stream in, so a body
// that is not a package of the target's format is refused at once, not
// after it was written to disk to its end.
func (in *ingester) take(ctx context.Context, spec *FormatSpec, src source, durable bool) (*upload, *Parsed, error) {
	rs := recvSpec{digests: spec.Digests, durable: durable, sniff: func(head []byte) error {
		return in.sniff(spec, head, int64(len(head)))
	}}
	if t, ok := spec.Format.(Tapper); ok {
		rs.tap = t.Tap
	}
	up, err := src(ctx, rs)
	if err != nil {
		return nil, nil, err
	}
	in.d.hook("upload.received")
	if err := in.sniff(spec, up.head, up.size); err != nil {
		up.discard()
		return nil, nil, err
	}
	parsed, err := readPackage(ctx, spec.Format, up)
	if err != nil {
		up.discard()
		return nil, nil, err
	}
	return up, parsed, nil
}

// finder looks a package of the target up by name, version and
// architecture, or returns an error wrapping ErrNotFound.
type finder func(name, version, arch string) (*Package, error)

// lookupFunc returns the target of an upload (creating it with format)
// and how to find the packages it holds.
type lookupFunc func(ctx context.Context, format string) (*TargetInfo, finder, error)

// catalogLookup looks t and its packages up in the catalog.
func (in *ingester) catalogLookup(t Target) lookupFunc {
	return func(ctx context.Context, format string) (*TargetInfo, finder, error) {
		ti, err := in.d.cat.Target(ctx, t, format)
		if err != nil {
			return nil, nil, err
		}
		return ti, func(name, version, arch string) (*Package, error) {
			return in.d.cat.FindPackage(ctx, ti.ID, name, version, arch)
		}, nil
	}
}

// existing applies the rule for a name, version and architecture the
// target holds already: the same upload is answered with the recorded
// package, other bytes are a conflict. Both nil: p is new.
func existing(t Target, spec *FormatSpec, ti *TargetInfo, p *Package, find finder) (*IngestResult, error) {
	old, err := find(p.Name, p.Version, p.Arch)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if old.SameUpload(p) {
		return &IngestResult{Package: old, Target: ti, Path: packagePath(spec.Format, t, old)}, nil
	}
	return nil, fmt.Errorf("%s %s (%s) already exists in %s with other content (sha256 %s): %w",
		p.Name, p.Version, p.Arch, t, old.SHA256, ErrConflict)
}

// rewritten lets a Rewriter format rewrite the upload (rpm signing) and,
// when it did, parses the result into p (keeping the uploaded sha256 as
// OrigSHA256) and returns the new upload; nil when the upload stays as it
// is.
func (in *ingester) rewritten(ctx context.Context, spec *FormatSpec, t Target, up *upload, p *Package, durable bool) (*upload, error) {
	rw, ok := spec.Format.(Rewriter)
	if !ok {
		return nil, nil
	}
	up2, err := in.rewrite(ctx, rw, t, up, spec.Digests, durable)
	if err != nil || up2 == nil {
		return nil, err
	}
	parsed, err := readPackage(ctx, spec.Format, up2)
	if err != nil {
		up2.discard()
		return nil, fmt.Errorf("read rewritten package: %w", err)
	}
	p.OrigSHA256, p.Size, p.Sums, p.SHA256, p.Meta = p.SHA256, up2.size, up2.sums, up2.sums[SHA256], parsed.Meta
	return up2, nil
}

// store moves the upload into the blob store as p's blob. A durable store
// takes the shared gc lock first and returns its release, to call once p
// is recorded; a batch holds the lock itself.
func (in *ingester) store(ctx context.Context, p *Package, up *upload, durable bool) (func(), error) {
	unlock := func() {}
	if durable {
		var err error
		if unlock, err = in.d.locks.gc(ctx, false); err != nil {
			return nil, err
		}
	}
	if err := in.d.blobs.PutFile(ctx, p.SHA256, up.path, durable); err != nil {
		unlock()
		return nil, err
	}
	up.path = "" // moved
	in.d.hook("upload.stored")
	return unlock, nil
}

func packagePath(f Format, t Target, p *Package) string {
	if pp, ok := f.(PackagePather); ok {
		return pp.PackagePath(t, p)
	}
	return ""
}

func readPackage(ctx context.Context, f Format, up *upload) (parsed *Parsed, err error) {
	file, err := os.Open(up.path)
	if err != nil {
		return nil, fmt.Errorf("reopen upload: %w", err)
	}
	defer file.Close()
	defer func() {
		// A reader bug must not take the server down: report it as a bad package.
		if r := recover(); r != nil {
			parsed, err = nil, BadPackage(fmt.Sprintf("the %s reader failed on this file: %v", f.Name(), r))
		}
	}()
	if t, ok := f.(Tapper); ok && up.tap != nil {
		parsed, err = t.ReadTapped(ctx, file, up.size, up.sums, up.tap)
	} else {
		parsed, err = f.Read(ctx, file, up.size, up.sums)
	}
	if err != nil {
		return nil, err
	}
	if parsed.Name == "" || parsed.Version == "" || parsed.Arch == "" {
		return nil, BadPackage("the package has no name, version or architecture")
	}
	return parsed, nil
}

// sniff checks that an upload of size bytes starting with head is a
// package of the target's format and, if it is not, names the format it is.
func (in *ingester) sniff(spec *FormatSpec, head []byte, size int64) error {
	if size == 0 {
		return BadPackage("the upload is empty")
	}
	if spec.Format.Sniff(head) {
		return nil
	}
	if other := in.d.formats.other(spec, head); other != nil {
		return BadPackage(fmt.Sprintf("this is a %s package, but %s targets take %s packages",
			other.Format.Name(), strings.Join(spec.Distros, "/"), spec.Format.Name()))
	}
	return BadPackage(fmt.Sprintf("not a %s package (unrecognised file signature)", spec.Format.Name()))
}
