package apk

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/pierhq/pier/repo"
)

// maxIndexText bounds the APKINDEX text Verify reads back (its own output,
// so only a broken blob store could make it larger).
const maxIndexText = 1 << 30

// Verify reads every APKINDEX.tar.gz of a generation back the way
// apk-tools does (src/database.c apk_db_index_read, src/package.c
// apk_sign_ctx_*): the first gzip member holds the .SIGN.RSA.<key name>
// entry whose RSA PKCS#1 v1.5 SHA-1 signature over every compressed byte
// after that member verifies with the format's key; the rest is a tar
// holding APKINDEX, whose stanzas each end with a blank line and have C:,
// P: and V:; every package a stanza names is in the generation, in the
// same directory as <P>-<V>.apk, with the size S: states. The C: identity
// is not checked against the package bytes (the core checks each file's
// sha256 and size against the blob store). Errors name the file and the
// check.
func (f *Format) Verify(ctx context.Context, in *repo.VerifyInput) error {
	files := in.Files
	byPath := func(a, b repo.File) int { return strings.Compare(a.Path, b.Path) }
	if !slices.IsSortedFunc(files, byPath) {
		files = slices.SortedFunc(slices.Values(files), byPath)
	}
	for _, file := range files {
		if path.Base(file.Path) != "APKINDEX.tar.gz" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := in.Read(ctx, file)
		if err != nil {
			return fmt.Errorf("apk: verify %s: read %s: %w", in.Target, file.Path, err)
		}
		if err := f.verifyIndex(files, file.Path, data); err != nil {
			return fmt.Errorf("apk: verify %s: %s: %w", in.Target, file.Path, err)
		}
	}
	return nil
}

// verifyIndex checks one APKINDEX.tar.gz.
func (f *Format) verifyIndex(files []repo.File, name string, data []byte) error {
	rest := data
	if f.signer != nil {
		signed, err := f.verifySignature(data)
		if err != nil {
			return err
		}
		rest = signed
	}
	text, err := indexText(rest)
	if err != nil {
		return err
	}
	// The packages of this index are the files under its directory: a
	// contiguous run of the sorted files.
	dir := path.Dir(name) + "/"
	lo, _ := slices.BinarySearchFunc(files, dir, func(f repo.File, d string) int { return strings.Compare(f.Path, d) })
	hi := lo + sort.Search(len(files)-lo, func(i int) bool { return !strings.HasPrefix(files[lo+i].Path, dir) })
	return checkIndexText(files[lo:hi], dir, text)
}

// verifySignature checks the signature member and returns the signed
// bytes (the index stream).
func (f *Format) verifySignature(data []byte) ([]byte, error) {
	br := bytes.NewReader(data)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("signature: the file does not start with a gzip member: %w", err)
	}
	zr.Multistream(false)
	want := ".SIGN.RSA." + f.signer.KeyName()
	var sig []byte
	var names []string
	w := &tarWalker{r: zr, maxExt: 1 << 20}
	err = w.walk(func(e *tarItem, body io.Reader) error {
		names = append(names, e.name)
		if e.name == want && sig == nil {
			if e.size > 64<<10 {
				return fmt.Errorf("%s is %d bytes", want, e.size)
			}
			sig, err = io.ReadAll(body)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("signature: the first gzip member is not a readable tar: %w", err)
	}
	if sig == nil {
		return nil, fmt.Errorf("signature: the first gzip member holds %q, not %s: apk-tools looks the key up by the name after .SIGN.RSA. and would call the index UNTRUSTED", names, want)
	}
	signed := data[len(data)-br.Len():]
	if len(signed) == 0 {
		return nil, errors.New("signature: nothing follows the signature member")
	}
	pub := f.signer.Public()
	if pub == nil {
		return nil, errors.New("signature: the signer has no public key to verify with")
	}
	sum := sha1.Sum(signed)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, sum[:], sig); err != nil {
		return nil, fmt.Errorf("signature: %s does not verify with the public key %s over the %d bytes after the signature member (apk-tools: \"BAD signature\"): %w", want, f.signer.KeyName(), len(signed), err)
	}
	return signed, nil
}

// indexText returns the APKINDEX entry of the index stream.
func indexText(stream []byte) ([]byte, error) {
	// A bufio.Reader lets the decompressor take its fast path; the index
	// stream runs to the end of the file, so read-ahead loses nothing.
	zr, err := gzip.NewReader(bufio.NewReaderSize(bytes.NewReader(stream), 64<<10))
	if err != nil {
		return nil, fmt.Errorf("index: not a gzip stream: %w", err)
	}
	var text []byte
	found := false
	w := &tarWalker{r: zr, maxExt: 1 << 20}
	err = w.walk(func(e *tarItem, body io.Reader) error {
		if e.name != "APKINDEX" || found {
			return nil
		}
		if e.size > maxIndexText {
			return fmt.Errorf("APKINDEX is %d bytes", e.size)
		}
		found = true
		text = make([]byte, e.size)
		_, err := io.ReadFull(body, text)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("index: the tar stream does not read back: %w", err)
	}
	if !found {
		return nil, errors.New("index: no APKINDEX entry (apk-tools fails to load the index: ENOMSG)")
	}
	return text, nil
}

// checkIndexText parses APKINDEX like apk_db_index_read (a line shorter
// than 2 bytes ends a stanza; "X:value" lines; others ignored) and checks
// every stanza against files, the generation's files under dir (which
// ends with "/").
func checkIndexText(files []repo.File, dir string, text []byte) error {
	if len(text) > 0 && !bytes.HasSuffix(text, []byte("\n\n")) {
		return errors.New("APKINDEX: the last stanza does not end with a blank line; apk-tools would drop it")
	}
	st := stanzaFields{path: []byte(dir)}
	stanza, line := 0, 0
	for len(text) > 0 {
		i := bytes.IndexByte(text, '\n')
		l := text[:i]
		text = text[i+1:]
		line++
		if len(l) < 2 {
			if st.any {
				stanza++
				if err := st.check(files); err != nil {
					return fmt.Errorf("APKINDEX stanza %d (ending at line %d): %w", stanza, line, err)
				}
			}
			st.reset()
			continue
		}
		if len(l) < 3 || l[1] != ':' {
			continue
		}
		st.any = true
		switch v := l[2:]; l[0] {
		case 'C':
			st.c = v
		case 'P':
			st.p = v
		case 'V':
			st.v = v
		case 'S':
			st.s = v
		}
	}
	return nil
}

// stanzaFields are the fields of one stanza Verify checks (slices of the
// index text) and a buffer for the package's path.
type stanzaFields struct {
	any        bool
	c, p, v, s []byte
	path       []byte // "<dir>/" then the package's file name
	dirLen     int
}

func (st *stanzaFields) reset() {
	if st.dirLen == 0 {
		st.dirLen = len(st.path)
	}
	st.any, st.c, st.p, st.v, st.s = false, nil, nil, nil, nil
}

func (st *stanzaFields) check(files []repo.File) error {
	switch {
	case len(st.p) == 0:
		return errors.New("no P: (apk-tools fails the stanza)")
	case len(st.v) == 0:
		return fmt.Errorf("package %s has no V: field", st.p)
	case len(st.c) == 0:
		return fmt.Errorf("package %s %s has no C: (apk-tools keys packages by it)", st.p, st.v)
	}
	size, n := pullUint(st.s, 10, 63)
	if len(st.s) == 0 || n != len(st.s) {
		return fmt.Errorf("package %s %s: S:%q is not a size", st.p, st.v, st.s)
	}
	if st.dirLen == 0 {
		st.dirLen = len(st.path)
	}
	want := append(st.path[:st.dirLen], st.p...)
	want = append(want, '-')
	want = append(want, st.v...)
	want = append(want, ".apk"...)
	st.path = want
	i, ok := slices.BinarySearchFunc(files, want[st.dirLen:], func(f repo.File, name []byte) int {
		return compareSuffix(f.Path[st.dirLen:], name)
	})
	if !ok {
		return fmt.Errorf("package %s %s: %s is not in the generation", st.p, st.v, want)
	}
	if files[i].Size != int64(size) {
		return fmt.Errorf("package %s %s: %s is %d bytes, S: says %d", st.p, st.v, want, files[i].Size, size)
	}
	return nil
}

// compareSuffix compares a with p without converting p.
func compareSuffix(a string, p []byte) int {
	for i := 0; i < len(a) && i < len(p); i++ {
		if a[i] != p[i] {
			if a[i] < p[i] {
				return -1
			}
			return 1
		}
	}
	return cmp.Compare(len(a), len(p))
}
