// Command apkindexest estimates how long `apk index` (apk-tools) takes to
// rebuild an APKINDEX from a directory of .apk files, for the apk rows of
// bench/compare.sh: apk-tools is not packaged here, so its per-file work
// is done by this program the way apk-tools 2 does it, on one thread as
// `apk index` runs. For every .apk: read the file, find its gzip streams
// (signature, control, data), inflate the control stream, read .PKGINFO
// from its tar and take the SHA-1 of the control stream's compressed bytes
// (the C: identity); the data stream is not read, as `apk index` does not
// decompress it. Then render the APKINDEX entries, tar and gzip them with
// a DESCRIPTION, and sign the result with RSA (SHA-1, 2048-bit key), as
// `abuild-sign` does after `apk index`.
//
// It prints the number of packages and the elapsed time. It is an
// estimate, not apk-tools: C inflate is faster than Go's, and apk-tools
// also stats and sorts; it is meant to be of the right size.
//
//	apkindexest DIR
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: apkindexest DIR")
		os.Exit(2)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048) // before the clock starts
	if err != nil {
		fail(err)
	}
	start := time.Now()
	files, err := filepath.Glob(filepath.Join(os.Args[1], "*.apk"))
	if err != nil {
		fail(err)
	}
	sort.Strings(files)
	var index bytes.Buffer
	for _, f := range files {
		entry, err := readAPK(f)
		if err != nil {
			fail(fmt.Errorf("%s: %w", f, err))
		}
		index.Write(entry)
	}
	signed, err := writeIndex(index.Bytes(), key)
	if err != nil {
		fail(err)
	}
	fmt.Printf("%d packages, %d bytes of APKINDEX.tar.gz, %.2f s\n", len(files), len(signed), time.Since(start).Seconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "apkindexest:", err)
	os.Exit(1)
}

// readAPK returns the APKINDEX entry of one package. Like apk-tools it
// reads the file only as far as the end of the control stream: from the
// first 64 KiB, then twice as much until the control stream is whole.
func readAPK(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, 0, 64<<10)
	for {
		n, err := io.ReadFull(f, data[len(data):cap(data)])
		data = data[:len(data)+n]
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			return nil, err
		}
		entry, perr := entryOf(data, fi.Size())
		if perr == nil || eof {
			return entry, perr
		}
		data = append(data, make([]byte, cap(data))...)[:len(data)]
	}
}

// entryOf returns the APKINDEX entry of the package whose first bytes are
// data (of size bytes in all); an error when they end before the control
// stream does.
func entryOf(data []byte, size int64) ([]byte, error) {
	// The gzip streams: apk-tools reads them in turn; the second is the
	// control stream when the first holds only .SIGN.* entries.
	br := bytes.NewReader(data)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, err
	}
	var control []byte
	var info []byte
	for stream := 0; stream < 2 && info == nil; stream++ {
		if stream > 0 {
			if err := zr.Reset(br); err != nil {
				return nil, err
			}
		}
		zr.Multistream(false)
		startAt := len(data) - br.Len() - 10 // the 10-byte header just read
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break // end of this stream's tar
			}
			if err != nil {
				return nil, err
			}
			if h.Name == ".PKGINFO" {
				if info, err = io.ReadAll(tr); err != nil {
					return nil, err
				}
			}
		}
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return nil, err
		}
		control = data[startAt : len(data)-br.Len()]
	}
	if info == nil {
		return nil, fmt.Errorf("no .PKGINFO")
	}
	sum := sha1.Sum(control)
	fields := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " = ")
		if ok && !strings.HasPrefix(k, "#") {
			fields[k] = append(fields[k], v)
		}
	}
	first := func(k string) string {
		if v := fields[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "C:Q1%s\nP:%s\nV:%s\nA:%s\nS:%d\nI:%s\nT:%s\nU:%s\nL:%s\n",
		base64.StdEncoding.EncodeToString(sum[:]), first("pkgname"), first("pkgver"), first("arch"),
		size, first("size"), first("pkgdesc"), first("url"), first("license"))
	if o := first("origin"); o != "" {
		fmt.Fprintf(&b, "o:%s\n", o)
	}
	if m := first("maintainer"); m != "" {
		fmt.Fprintf(&b, "m:%s\n", m)
	}
	if t := first("builddate"); t != "" {
		fmt.Fprintf(&b, "t:%s\n", t)
	}
	if d := fields["depend"]; len(d) > 0 {
		fmt.Fprintf(&b, "D:%s\n", strings.Join(d, " "))
	}
	if p := fields["provides"]; len(p) > 0 {
		fmt.Fprintf(&b, "p:%s\n", strings.Join(p, " "))
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// writeIndex returns a signed APKINDEX.tar.gz holding index.
func writeIndex(index []byte, key *rsa.PrivateKey) ([]byte, error) {
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	tw := tar.NewWriter(zw)
	for _, f := range []struct {
		name string
		data []byte
	}{{"DESCRIPTION", []byte("estimate")}, {"APKINDEX", index}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Format: tar.FormatUSTAR}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Flush(); err != nil { // apk index writes no end-of-archive blocks
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	digest := sha1.Sum(body.Bytes())
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, digest[:])
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	sw := gzip.NewWriter(&out)
	st := tar.NewWriter(sw)
	if err := st.WriteHeader(&tar.Header{Name: ".SIGN.RSA.estimate.rsa.pub", Mode: 0o644, Size: int64(len(sig)), Format: tar.FormatUSTAR}); err != nil {
		return nil, err
	}
	if _, err := st.Write(sig); err != nil {
		return nil, err
	}
	if err := st.Flush(); err != nil {
		return nil, err
	}
	if err := sw.Close(); err != nil {
		return nil, err
	}
	return append(out.Bytes(), body.Bytes()...), nil
}
