package deb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"

	"github.com/pierhq/pier/repo"
)

var _ repo.UploadListReader = (*Format)(nil)

// maxChangesSize bounds a .changes (a Pier limit, as for a .dsc).
const maxChangesSize = 1 << 20

// SniffUploadList implements repo.UploadListReader: a .changes is a file
// named *.changes, or a control stanza with Source and Date, Distribution
// or Changes.
func (f *Format) SniffUploadList(name string, head []byte) bool {
	return strings.HasSuffix(name, ".changes") || sniffChanges(head)
}

// reChangesFiles is a line of a .changes' Files field as dak reads it
// (daklib/dbconn.py, the upload's files): md5, size, section, priority,
// name.
var reChangesFiles = regexp.MustCompile(`^([0-9a-f]{32})\s+(\d+)\s+(\S+)\s+(\S+)\s+([0-9a-zA-Z][-+:.,=0-9a-zA-Z_~]+)$`)

// ReadUploadList implements repo.UploadListReader for a .changes: it is
// parsed as dpkg parses control files (parseControl); Source, Version,
// Files and Checksums-Sha256 are required (dak refuses a .changes without
// them); every file is listed with its size and md5 (Files: "md5 size
// section priority name", as dpkg-genchanges writes it) and sha1/sha256
// from Checksums-*, the same size everywhere. With keys (the target's
// uploader keys) the .changes must be clear-signed by one of them, as
// dak requires a valid signature by a keyring it trusts; then only the
// signed text is read.
func (f *Format) ReadUploadList(ctx context.Context, r io.ReaderAt, size int64, keys []byte) (*repo.UploadList, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size > maxChangesSize {
		return nil, badf("the .changes is %d bytes, more than the limit of %d", size, maxChangesSize)
	}
	data := make([]byte, size)
	if err := readAt(r, data, 0); err != nil {
		return nil, readError(".changes", 0, err)
	}
	list := &repo.UploadList{}
	if keys != nil {
		text, signer, err := verifyClearSigned(data, keys)
		if err != nil {
			return nil, err
		}
		data, list.Signer = text, signer
	}
	fields, _, reason := parseControl(data, ".changes")
	if reason != "" {
		return nil, repo.BadPackage(reason)
	}
	for _, name := range []string{"Source", "Version", "Files", "Checksums-Sha256"} {
		if _, ok := lookup(fields, name); !ok {
			return nil, badf(".changes: missing field %s (dak refuses it; dpkg-genchanges writes it)", name)
		}
	}
	files, reason := changesFiles(fields)
	if reason != "" {
		return nil, badf(".changes: %s", reason)
	}
	list.Files = files
	return list, nil
}

// changesFiles reads the files a .changes lists.
func changesFiles(fields []field) ([]repo.NeededFile, string) {
	var out []repo.NeededFile
	index := map[string]int{}
	add := func(name string, size int64, d repo.Digest, sum string) string {
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, repo.NeededFile{Name: name, Size: size, Sums: repo.Sums{}})
		}
		nf := &out[i]
		if nf.Size != size {
			return fmt.Sprintf("conflicting file sizes %d and %d for file %s", nf.Size, size, name)
		}
		if old, ok := nf.Sums[d]; ok && old != sum {
			return fmt.Sprintf("conflicting checksums %s and %s for file %s", old, sum, name)
		}
		nf.Sums[d] = sum
		return ""
	}
	v, _ := lookup(fields, "Files")
	for _, line := range strings.Split(v, "\n") {
		if line = strings.TrimLeft(line, " "); line == "" {
			continue
		}
		m := reChangesFiles.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Sprintf("invalid line in Files: %q (want \"<md5> <size> <section> <priority> <file name>\")", clip(line))
		}
		size, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			return nil, fmt.Sprintf("invalid size in Files: %q", clip(m[2]))
		}
		if reason := add(m[5], size, repo.MD5, m[1]); reason != "" {
			return nil, reason
		}
	}
	for _, cf := range dscChecksumFields[1:] {
		v, ok := lookup(fields, cf.field)
		if !ok {
			continue
		}
		for _, line := range strings.Split(v, "\n") {
			if line = strings.TrimLeft(line, " "); line == "" {
				continue
			}
			p := strings.Fields(line)
			if len(p) != 3 || !isLowerHex(p[0], cf.hexLen) || !isDigits(p[1]) || !reDSCFileName.MatchString(p[2]) {
				return nil, fmt.Sprintf("invalid line in %s: %q", cf.field, clip(line))
			}
			size, err := strconv.ParseInt(p[1], 10, 64)
			if err != nil {
				return nil, fmt.Sprintf("invalid size in %s: %q", cf.field, clip(p[1]))
			}
			if _, listed := index[p[2]]; !listed {
				return nil, fmt.Sprintf("%s lists %s, which Files does not", cf.field, p[2])
			}
			if reason := add(p[2], size, cf.digest, p[0]); reason != "" {
				return nil, reason
			}
		}
	}
	for _, nf := range out {
		if nf.Sums[repo.SHA256] == "" {
			return nil, fmt.Sprintf("%s has no Checksums-Sha256 line", nf.Name)
		}
	}
	if len(out) == 0 {
		return nil, "Files lists no file"
	}
	return out, ""
}

// verifyClearSigned checks that data is a clear-signed message with a good
// signature by a key of the armored ring keys and returns the signed text
// and the signer's fingerprint. Failures wrap repo.ErrForbidden.
func verifyClearSigned(data, keys []byte) ([]byte, string, error) {
	block, _ := clearsign.Decode(data)
	if block == nil || !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		return nil, "", fmt.Errorf("the .changes is not signed, and this target accepts only .changes signed by one of its uploader keys (sign it with debsign or gpg --clearsign): %w",
			repo.ErrForbidden)
	}
	ring, err := readKeyRing(keys)
	if err != nil {
		return nil, "", fmt.Errorf("read the uploader keys: %w", err)
	}
	signer, err := openpgp.CheckDetachedSignature(ring, bytes.NewReader(block.Bytes), block.ArmoredSignature.Body, nil)
	if err != nil {
		var id string
		if u := unknownIssuer(err); u {
			id = "a key that is not one of this target's uploader keys"
		} else {
			id = "a signature that does not verify (" + err.Error() + ")"
		}
		return nil, "", fmt.Errorf("the .changes is signed with %s: %w", id, repo.ErrForbidden)
	}
	return block.Plaintext, fmt.Sprintf("%X", signer.PrimaryKey.Fingerprint), nil
}

func unknownIssuer(err error) bool {
	return errors.Is(err, pgperrors.ErrUnknownIssuer)
}

// ListedFiles returns the names of the files a .dsc or, with changes, a
// .changes lists (for a client that sends them along: pier push, which
// tells the two apart by the file's name, as it picks the upload route),
// read with the same rules as at upload.
func ListedFiles(data []byte, changes bool) ([]string, error) {
	what := ".dsc"
	if changes {
		what = ".changes"
	}
	fields, _, reason := parseControl(data, what)
	if reason != "" {
		return nil, repo.BadPackage(reason)
	}
	var names []string
	if changes {
		files, reason := changesFiles(fields)
		if reason != "" {
			return nil, badf(".changes: %s", reason)
		}
		for _, f := range files {
			names = append(names, f.Name)
		}
		return names, nil
	}
	files, reason := dscFiles(fields)
	if reason != "" {
		return nil, badf(".dsc: %s", reason)
	}
	for _, f := range files {
		names = append(names, f.name)
	}
	return names, nil
}
