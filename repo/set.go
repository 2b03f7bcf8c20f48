package repo

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/pierhq/pier/audit"
)

// ErrForbidden marks an upload that the target's policy refuses whatever
// its content: a .changes that is not signed by one of the uploader keys
// configured for the target.
var ErrForbidden = errors.New("forbidden")

// NextFile returns the next file of a set upload: its name as the client
// sent it and its bytes, or io.EOF after the last one. The body must be
// read before NextFile is called again.
type NextFile func() (name string, body io.Reader, err error)

// UploadListReader is implemented by formats whose uploads may come as a set
// of files that one manifest file lists with their sizes and digests (deb:
// a .changes, as dput sends it).
type UploadListReader interface {
	// SniffUploadList reports whether the file called name, starting with
	// head, is a manifest.
	SniffUploadList(name string, head []byte) bool
	// ReadUploadList parses the manifest in r (size bytes). With keys (an
	// armored OpenPGP key ring) it requires a valid signature by one of
	// them, or fails with an error wrapping ErrForbidden that says why.
	// Errors about the manifest's content wrap ErrBadPackage.
	ReadUploadList(ctx context.Context, r io.ReaderAt, size int64, keys []byte) (*UploadList, error)
}

// UploadList is a parsed list file (a .changes): the files it lists.
type UploadList struct {
	// Files are the files the manifest lists, each with its size and
	// digests; the core requires each one in the upload and checks it.
	Files []NeededFile
	// Signer names the key whose signature verified (its fingerprint), ""
	// when no keys were given.
	Signer string
}

// SetOptions qualifies a set upload (Service.IngestSet).
type SetOptions struct {
	// Component is the deb component or apk repository ("main" if empty).
	Component string
	// Listed requires exactly one list file (UploadListReader: a .changes) among
	// the files, listing every other one.
	Listed bool
	// UploaderKeys, when set, is the armored key ring whose signature the
	// manifest must carry (the target's uploaders rule).
	UploaderKeys []byte
	// Audit, when set, returns the audit event of the set, called with the
	// packages about to be recorded; the catalog writes it in the same
	// transaction.
	Audit func(ps []*Package) *audit.Event
}

// SetFileInfo says what became of one file of a set upload.
type SetFileInfo struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Use is "package" (a package of the set), "part" (a file a package
	// of the set lists; Of names it), "manifest" (the .changes) or
	// "unused" (listed by the manifest but neither a package nor part of
	// one, such as a .buildinfo: not published).
	Use string `json:"use"`
	Of  string `json:"of,omitempty"`
}

// SetPackage is one package of a set upload.
type SetPackage struct {
	// File is the package's file name in the upload.
	File string
	*IngestResult
}

// SetResult reports what a set upload did.
type SetResult struct {
	Target   *TargetInfo
	Packages []SetPackage
	Files    []SetFileInfo
	// Signer is the fingerprint of the key that signed the manifest, when
	// the target's policy checked it.
	Signer string
}

// Bounds of a set upload.
const (
	maxSetFiles    = 1000
	maxSetNameSize = 255
)

// receivedSet is the files of a set upload in the temp dir, by name, in
// the order they came.
type receivedSet struct {
	names []string
	files map[string]*upload
	info  map[string]*SetFileInfo
}

func (rs *receivedSet) discard() {
	for _, up := range rs.files {
		up.discard()
	}
}

// ingestSet receives every file of a set upload, then checks it whole:
// every package's Needs (and, with a manifest, every file it lists) must
// be in the set with its size and digests, and every file must be a
// package or listed; only then are the blobs stored and the packages
// recorded, all in one catalog transaction. Nothing is recorded when any
// check fails.
func (in *ingester) ingestSet(ctx context.Context, t Target, next NextFile, o SetOptions) (res *SetResult, err error) {
	iopts := IngestOptions{Component: o.Component}
	spec, err := in.accepts(t, &iopts)
	if err != nil {
		return nil, err
	}
	o.Component = iopts.Component
	if obs := in.d.opts.Observer; obs != nil {
		defer func() {
			if err != nil {
				obs.Ingested(t, spec.Format.Name(), false, err)
				return
			}
			for _, p := range res.Packages {
				obs.Ingested(t, spec.Format.Name(), p.Created, nil)
			}
		}()
	}
	rs, err := in.receiveSet(ctx, spec, next)
	if err != nil {
		return nil, err
	}
	defer rs.discard()
	res = &SetResult{}
	listed := map[string]bool{}
	if o.Listed {
		if listed, res.Signer, err = in.manifest(ctx, spec, rs, o.UploaderKeys); err != nil {
			return nil, err
		}
	}
	leads, err := in.leads(ctx, t, spec, rs, o.Listed, listed)
	if err != nil {
		return nil, err
	}
	ti, err := in.d.cat.Target(ctx, t, spec.Format.Name())
	if err != nil {
		return nil, err
	}
	if err := refuseFrozen(ti, "upload"); err != nil {
		return nil, err
	}
	res.Target = ti
	var fresh []*setLead
	for _, l := range leads {
		done, err := existing(t, spec, ti, l.pkg, func(name, version, arch string) (*Package, error) {
			return in.d.cat.FindPackage(ctx, ti.ID, name, version, arch)
		})
		if err != nil {
			return nil, err
		}
		if done != nil {
			l.done = done
			continue
		}
		fresh = append(fresh, l)
	}
	if err := in.recordSet(ctx, t, spec, ti, rs, fresh, o); err != nil {
		return nil, err
	}
	for _, l := range leads {
		res.Packages = append(res.Packages, SetPackage{File: l.name, IngestResult: l.done})
	}
	for _, name := range rs.names {
		res.Files = append(res.Files, *rs.info[name])
	}
	return res, nil
}

// setLead is one package of a set upload.
type setLead struct {
	name string
	up   *upload
	pkg  *Package
	// parts are the uploads of the package's Needs, in their order.
	parts []*upload
	done  *IngestResult
}

// receiveSet receives every file of a set upload into the temp dir,
// hashing each with the format's digests.
func (in *ingester) receiveSet(ctx context.Context, spec *FormatSpec, next NextFile) (*receivedSet, error) {
	rs := &receivedSet{files: map[string]*upload{}, info: map[string]*SetFileInfo{}}
	ok := false
	defer func() {
		if !ok {
			rs.discard()
		}
	}()
	limit := in.d.opts.MaxUploadSize
	if limit <= 0 {
		limit = 2 << 30
	}
	var total int64
	for {
		name, body, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if reason := setNameProblem(name); reason != "" {
			return nil, fmt.Errorf("file name %q %s: %w", clipName(name), reason, ErrInvalid)
		}
		if rs.files[name] != nil {
			return nil, fmt.Errorf("the upload holds two files named %q: %w", name, ErrInvalid)
		}
		if len(rs.names) == maxSetFiles {
			return nil, fmt.Errorf("the upload holds more than %d files: %w", maxSetFiles, ErrInvalid)
		}
		up, err := in.receive(ctx, body, recvSpec{digests: spec.Digests, durable: true})
		if err != nil {
			return nil, fmt.Errorf("receive %s: %w", name, err)
		}
		rs.names = append(rs.names, name)
		rs.files[name] = up
		rs.info[name] = &SetFileInfo{Name: name, SHA256: up.sums[SHA256], Size: up.size}
		if total += up.size; total > limit {
			return nil, fmt.Errorf("the upload's files are larger than the limit of %d bytes together: %w", limit, ErrTooLarge)
		}
	}
	if len(rs.names) == 0 {
		return nil, fmt.Errorf("the upload holds no file: %w", ErrInvalid)
	}
	ok = true
	return rs, nil
}

// setNameProblem says why name cannot name a file of a set upload, or "".
func setNameProblem(name string) string {
	switch {
	case name == "":
		return "is empty (every file part needs a file name)"
	case name == "." || name == "..":
		return "is not a file name"
	case len(name) > maxSetNameSize:
		return fmt.Sprintf("is longer than %d bytes", maxSetNameSize)
	case strings.ContainsAny(name, "/\\\x00\n"):
		return "must be a plain file name, without a directory"
	}
	return ""
}

func clipName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// manifest finds the set's one manifest, parses it (checking its
// signature against keys when set) and checks that it lists every other
// file of the set and that each one matches. It returns the names listed.
func (in *ingester) manifest(ctx context.Context, spec *FormatSpec, rs *receivedSet, keys []byte) (map[string]bool, string, error) {
	mr, ok := spec.Format.(UploadListReader)
	if !ok {
		return nil, "", fmt.Errorf("%s targets take no manifest uploads: %w", spec.Format.Name(), ErrInvalid)
	}
	var found []string
	for _, name := range rs.names {
		if mr.SniffUploadList(name, rs.files[name].head) {
			found = append(found, name)
		}
	}
	switch len(found) {
	case 0:
		return nil, "", BadPackage("the upload holds no .changes file (a manifest listing the other files)")
	case 1:
	default:
		return nil, "", BadPackage(fmt.Sprintf("the upload holds %d .changes files (%s); send one per request", len(found), strings.Join(found, ", ")))
	}
	name := found[0]
	up := rs.files[name]
	f, err := os.Open(up.path)
	if err != nil {
		return nil, "", fmt.Errorf("reopen upload: %w", err)
	}
	defer f.Close()
	m, err := readUploadList(ctx, mr, f, up.size, keys)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	rs.info[name].Use = "manifest"
	listed := map[string]bool{}
	for _, need := range m.Files {
		if err := checkNeed(name, need, rs); err != nil {
			return nil, "", err
		}
		listed[need.Name] = true
	}
	for _, n := range rs.names {
		if n != name && !listed[n] {
			return nil, "", BadPackage(fmt.Sprintf("%s is in the upload but %s does not list it (every file must be listed with its size and checksums)", n, name))
		}
	}
	return listed, m.Signer, nil
}

// readUploadList runs the format's list reader, turning a panic into a
// bad-package error as readPackage does.
func readUploadList(ctx context.Context, mr UploadListReader, r io.ReaderAt, size int64, keys []byte) (m *UploadList, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, BadPackage(fmt.Sprintf("the .changes reader failed on this file: %v", r))
		}
	}()
	return mr.ReadUploadList(ctx, r, size, keys)
}

// leads parses every file of the set that is a package of the format and
// checks the files each one needs (taking one the upload lacks from the
// target's live package of the same name, see archived). Every other file
// must be a file a package needs, or (with a manifest) is left unused.
func (in *ingester) leads(ctx context.Context, t Target, spec *FormatSpec, rs *receivedSet, manifest bool, listed map[string]bool) ([]*setLead, error) {
	var leads []*setLead
	for _, name := range rs.names {
		up := rs.files[name]
		if rs.info[name].Use == "manifest" || !spec.Format.Sniff(up.head) {
			continue
		}
		parsed, err := readPackage(ctx, spec.Format, up)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		l := &setLead{name: name, up: up, pkg: &Package{Name: parsed.Name, Version: parsed.Version, Arch: parsed.Arch,
			Size: up.size, Sums: up.sums, SHA256: up.sums[SHA256], Meta: parsed.Meta, Uploaded: in.d.now().UTC()}}
		rs.info[name].Use = "package"
		for _, need := range parsed.Needs {
			if rs.files[need.Name] == nil {
				// Not uploaded: a file the target's live package of the
				// same name and architecture has (dak accepts a source
				// upload without the orig tarball its archive holds,
				// what dpkg-genchanges -sd sends for a -2 revision).
				b, err := in.archived(ctx, t, l.pkg, need)
				if err != nil {
					return nil, err
				}
				if b != nil {
					l.parts = append(l.parts, &upload{sums: Sums{SHA256: b.SHA256}, size: b.Size})
					l.pkg.Extra = append(l.pkg.Extra, *b)
					continue
				}
			}
			if err := checkNeed(name, need, rs); err != nil {
				return nil, err
			}
			part := rs.files[need.Name]
			l.parts = append(l.parts, part)
			l.pkg.Extra = append(l.pkg.Extra, Blob{SHA256: part.sums[SHA256], Size: part.size})
			if info := rs.info[need.Name]; info.Use == "" {
				info.Use, info.Of = "part", name
			}
		}
		leads = append(leads, l)
	}
	if len(leads) == 0 {
		return nil, BadPackage(fmt.Sprintf("the upload holds no %s package", spec.Format.Name()))
	}
	for _, name := range rs.names {
		info := rs.info[name]
		switch {
		case info.Use != "":
		case manifest && listed[name]:
			info.Use = "unused"
		default:
			return nil, BadPackage(fmt.Sprintf("%s is neither a %s package nor a file that a package of the upload lists",
				name, spec.Format.Name()))
		}
	}
	return leads, nil
}

// checkNeed checks that the set holds the file need names, with its size
// and every digest it states (computing digests the upload did not).
// lister names the file that lists it.
func checkNeed(lister string, need NeededFile, rs *receivedSet) error {
	up := rs.files[need.Name]
	if up == nil {
		return BadPackage(fmt.Sprintf("%s lists %s, which the upload does not contain (send every file it lists in the same request)", lister, need.Name))
	}
	if up.size != need.Size {
		return BadPackage(fmt.Sprintf("%s: the file has %d bytes, %s says %d", need.Name, up.size, lister, need.Size))
	}
	digests := make([]Digest, 0, len(need.Sums))
	for d := range need.Sums {
		digests = append(digests, d)
	}
	slices.Sort(digests)
	for _, d := range digests {
		want := need.Sums[d]
		got, ok := up.sums[d]
		if !ok {
			var err error
			if got, err = hashFile(up.path, d); err != nil {
				return err
			}
			up.sums[d] = got
		}
		if got != want {
			return BadPackage(fmt.Sprintf("%s: %s checksum mismatch: the file has %s, %s says %s (the file changed after %s was made, or a transfer damaged it)",
				need.Name, d, got, lister, want, lister))
		}
	}
	return nil
}

// hashFile computes digest d of the file at path.
func hashFile(path string, d Digest) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reopen upload: %w", err)
	}
	defer f.Close()
	h := newHash(d)
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash upload: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// recordSet stores the blobs of the new packages of a set (each file
// once) under one shared gc lock and records the packages in one catalog
// transaction (all or nothing).
func (in *ingester) recordSet(ctx context.Context, t Target, spec *FormatSpec, ti *TargetInfo, rs *receivedSet, fresh []*setLead, o SetOptions) error {
	if len(fresh) == 0 {
		return nil
	}
	unlock, err := in.d.locks.gc(ctx, false)
	if err != nil {
		return err
	}
	defer unlock()
	stored := map[string]bool{}
	put := func(up *upload) error {
		sum := up.sums[SHA256]
		if stored[sum] {
			return nil
		}
		if up.path == "" {
			// A file the target held (archived): still there now that
			// the gc lock is held?
			ok, err := in.d.blobs.Has(ctx, sum)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("the stored file %s went away meanwhile; send it with the upload: %w", sum, ErrConflict)
			}
			stored[sum] = true
			return nil
		}
		if err := in.d.blobs.PutFile(ctx, sum, up.path, true); err != nil {
			return err
		}
		up.path = ""
		stored[sum] = true
		return nil
	}
	ps := make([]*Package, len(fresh))
	for i, l := range fresh {
		l.pkg.Component = o.Component
		// A format that rewrites packages at ingest (rpm signing) does
		// so here too, as for a single upload.
		up2, err := in.rewritten(ctx, spec, t, l.up, l.pkg, true)
		if err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
		if up2 != nil {
			defer up2.discard()
			l.up = up2
		}
		for _, up := range append([]*upload{l.up}, l.parts...) {
			if err := put(up); err != nil {
				return err
			}
		}
		ps[i] = l.pkg
	}
	in.d.hook("upload.stored")
	if o.Audit != nil {
		ctx = audit.WithEvent(ctx, o.Audit(ps))
	}
	out, err := in.d.cat.AddPackageSet(ctx, ti.ID, ps)
	if err != nil {
		return err
	}
	for i, r := range out {
		fresh[i].done = in.recorded(t, &staged{target: ti, spec: spec}, r.Package, r.Added)
	}
	return nil
}

// archived returns the blob of a file that p needs and the upload lacks
// when a live package of the target with p's name and architecture has it
// among its Extra blobs with the size and sha256 need states, after
// checking every other digest need states against the blob's bytes; nil
// when none has. Only the same target and source name are looked at, so an
// upload can never reach another target's files by naming their hash.
func (in *ingester) archived(ctx context.Context, t Target, p *Package, need NeededFile) (*Blob, error) {
	sum := need.Sums[SHA256]
	if sum == "" {
		return nil, nil
	}
	ti, err := in.d.findTarget(ctx, t)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	keys, err := in.d.cat.PackageKeys(ctx, ti.ID)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, k := range keys {
		if k.Name == p.Name && k.Arch == p.Arch {
			ids = append(ids, k.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := in.d.cat.PackagesByID(ctx, ti.ID, ids)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		for _, b := range r.Extra {
			if b.SHA256 != sum || b.Size != need.Size {
				continue
			}
			if err := in.checkBlobSums(ctx, b, need); err != nil {
				return nil, err
			}
			return &b, nil
		}
	}
	return nil, nil
}

// checkBlobSums checks the digests need states, other than sha256, against
// the stored blob b.
func (in *ingester) checkBlobSums(ctx context.Context, b Blob, need NeededFile) error {
	var ds []Digest
	for d := range need.Sums {
		if d != SHA256 {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return nil
	}
	obj, err := in.d.blobs.Open(ctx, b.SHA256)
	if err != nil {
		return err
	}
	defer obj.Close()
	hs := make([]io.Writer, len(ds))
	hashes := make([]interface{ Sum([]byte) []byte }, len(ds))
	for i, d := range ds {
		h := newHash(d)
		hs[i], hashes[i] = h, h
	}
	if _, err := io.Copy(io.MultiWriter(hs...), &ctxReader{ctx: ctx, r: obj}); err != nil {
		return fmt.Errorf("read blob %s: %w", b.SHA256, err)
	}
	for i, d := range ds {
		if got := hex.EncodeToString(hashes[i].Sum(nil)); got != need.Sums[d] {
			return BadPackage(fmt.Sprintf("%s: %s checksum mismatch: the copy the target holds has %s, the upload says %s", need.Name, d, got, need.Sums[d]))
		}
	}
	return nil
}
