package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	goapk "github.com/chainguard-dev/go-apk/pkg/apk"
	apkfs "github.com/chainguard-dev/go-apk/pkg/fs"

	"github.com/pierhq/pier/repo/apk/apktest"
)

const (
	apkTarget  = "5.8/alpine/v3.20"
	apkRepo    = "/apk/5.8/alpine/v3.20/main" // the /etc/apk/repositories line, after the host
	apkVersion = "1.2.3-r0"
)

// TestApkEndToEnd uploads apks for alpine/v3.20 (x86_64, aarch64 and a
// noarch package), then reads the published repository as an apk client
// would: go-apk (an independent client) fetches and verifies each index with
// the public key named by the setup snippet and downloads every package,
// and checks written here, apart from Pier's reader, add what apk-tools
// verifies and go-apk skips (the signature's key name, C:, datahash, S:).
// Then a wrong key, the right key under another name, a tampered index and
// tampered packages must each be refused for the right reason.
func TestApkEndToEnd(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, "")
	client := &http.Client{Timeout: time.Minute}

	// Packages carry their packager's signature (apk-tools skips it when
	// installing from a signed index); the noarch one is unsigned.
	packager, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	uploads := map[string][]byte{ // key "name arch"
		"hello x86_64":     apkBuild(t, "hello", "x86_64", "x86_64 binary", packager),
		"hello aarch64":    apkBuild(t, "hello", "aarch64", "aarch64 binary", packager),
		"hello-doc noarch": apkBuild(t, "hello-doc", "noarch", "the manual", nil),
	}
	for _, k := range []string{"hello x86_64", "hello aarch64", "hello-doc noarch"} {
		name, arch, _ := strings.Cut(k, " ")
		code, reply := s.upload(apkTarget, uploads[k], "?publish=false")
		if code != http.StatusCreated {
			t.Fatalf("upload %s: %d %v", k, code, reply)
		}
		dir := arch
		if arch == "noarch" {
			dir = "x86_64" // the first configured architecture
		}
		wantPath := "apk/5.8/alpine/v3.20/main/" + dir + "/" + name + "-" + apkVersion + ".apk"
		if reply["name"] != name || reply["version"] != apkVersion || reply["architecture"] != arch ||
			reply["sha256"] != sha(uploads[k]) || reply["size"] != float64(len(uploads[k])) || reply["path"] != wantPath {
			t.Errorf("upload %s: reply %v, want path %s", k, reply, wantPath)
		}
	}
	// Byte-identical re-upload: 200. Same name+version+arch, other bytes: 409.
	if code, reply := s.upload(apkTarget, uploads["hello x86_64"], "?publish=false"); code != http.StatusOK {
		t.Errorf("identical re-upload: %d %v", code, reply)
	}
	other := apkBuild(t, "hello", "x86_64", "other x86_64 binary", packager)
	if code, reply := s.upload(apkTarget, other, "?publish=false"); code != http.StatusConflict {
		t.Errorf("conflicting upload: %d %v", code, reply)
	}
	s.publish(apkTarget)

	// The setup snippet names the key file and the repository line.
	code, setup, _ := s.get("/setup/5.8/alpine/v3.20")
	if code != http.StatusOK {
		t.Fatalf("setup: %d %s", code, setup)
	}
	m := regexp.MustCompile(`(?m)^wget -O /etc/apk/keys/(\S+\.rsa\.pub) (\S+)/keys/(\S+)$`).FindStringSubmatch(string(setup))
	if m == nil || m[1] != m[3] || m[2] != s.url {
		t.Fatalf("setup has no key install line for %s/keys/<name>.rsa.pub:\n%s", s.url, setup)
	}
	if line := "echo " + s.url + apkRepo + " >> /etc/apk/repositories\n"; !strings.Contains(string(setup), line) {
		t.Errorf("setup lacks %q:\n%s", line, setup)
	}
	keyName := m[1]
	code, pubPEM, _ := s.get("/keys/" + keyName)
	if code != http.StatusOK {
		t.Fatalf("GET /keys/%s: %d", keyName, code)
	}
	pub, err := apkPublicKey(pubPEM)
	if err != nil {
		t.Fatalf("/keys/%s: %v", keyName, err)
	}
	keyring := map[string]*rsa.PublicKey{keyName: pub}

	want := map[string][]string{
		"x86_64":  {"hello x86_64", "hello-doc noarch"},
		"aarch64": {"hello aarch64", "hello-doc noarch"},
	}
	indexes := map[string][]byte{}            // arch → served APKINDEX.tar.gz
	stanzas := map[string]map[string]string{} // "name arch" → x86_64/aarch64 index stanza
	for _, arch := range []string{"x86_64", "aarch64"} {
		// go-apk: fetch and verify the index, download every package.
		idx, via, seen, err := goapkIndexes(ctx, t, client, []string{s.url + apkRepo},
			map[string][]byte{keyName: pubPEM}, arch)
		if err != nil || len(idx) != 1 {
			t.Fatalf("%s: go-apk index: %d indexes, %v", arch, len(idx), err)
		}
		a, err := goapk.New(goapk.WithFS(apkfs.NewMemFS()), goapk.WithArch(arch))
		if err != nil {
			t.Fatal(err)
		}
		a.SetClient(via)
		var got []string
		for _, p := range idx[0].Packages() {
			k := p.Name + " " + p.Arch
			got = append(got, k)
			if wantURL := seen[0] + "/" + arch + "/" + p.Name + "-" + apkVersion + ".apk"; p.URL() != wantURL {
				t.Errorf("%s: go-apk URL %s, want %s", arch, p.URL(), wantURL)
			}
			rc, err := a.FetchPackage(ctx, p)
			if err != nil {
				t.Fatalf("%s: go-apk fetch %s: %v", arch, k, err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("%s: go-apk fetch %s: %v", arch, k, err)
			}
			parsed, err := goapk.ParsePackage(ctx, bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: go-apk parse %s: %v", arch, k, err)
			}
			if parsed.ChecksumString() != p.ChecksumString() || parsed.Size != p.Size ||
				parsed.Name != p.Name || parsed.Version != p.Version || parsed.Arch != p.Arch {
				t.Errorf("%s: %s: go-apk sees %s C:%s S:%d in the package, index says %s C:%s S:%d",
					arch, k, parsed, parsed.ChecksumString(), parsed.Size, p, p.ChecksumString(), p.Size)
			}
			if !bytes.Equal(data, uploads[k]) {
				t.Errorf("%s: %s: go-apk downloaded bytes differ from the upload", arch, k)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want[arch]) {
			t.Errorf("%s: go-apk lists %q, want %q", arch, got, want[arch])
		}

		// The same repository, checked the way apk-tools does.
		code, raw, _ := s.get(apkRepo + "/" + arch + "/APKINDEX.tar.gz")
		if code != http.StatusOK {
			t.Fatalf("%s: GET APKINDEX.tar.gz: %d", arch, code)
		}
		indexes[arch] = raw
		text, err := apkVerifyIndex(raw, keyring)
		if err != nil {
			t.Fatalf("%s: index: %v", arch, err)
		}
		entries, err := apkParseIndex(text)
		if err != nil {
			t.Fatalf("%s: index: %v\n%s", arch, err, text)
		}
		got = got[:0]
		for _, st := range entries {
			k := st["P"] + " " + st["A"]
			got = append(got, k)
			stanzas[k] = st
			if st["V"] != apkVersion {
				t.Errorf("%s: %s: V:%s", arch, k, st["V"])
			}
			if st["P"] == "hello" && (st["D"] != "hello-doc" || st["p"] != "cmd:hello="+apkVersion) {
				t.Errorf("%s: %s: D:%q p:%q", arch, k, st["D"], st["p"])
			}
			code, data, _ := s.get(apkRepo + "/" + arch + "/" + st["P"] + "-" + st["V"] + ".apk")
			if code != http.StatusOK {
				t.Errorf("%s: GET %s: %d", arch, k, code)
				continue
			}
			if err := apkCheckPackage(data, st); err != nil {
				t.Errorf("%s: %s: %v", arch, k, err)
			}
			if !bytes.Equal(data, uploads[k]) {
				t.Errorf("%s: %s: downloaded bytes differ from the upload", arch, k)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want[arch]) {
			t.Errorf("%s: APKINDEX lists %q, want %q", arch, got, want[arch])
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Negatives. go-apk caches an index per URL for the life of the process,
	// so each go-apk check goes through its own mirror (a new URL).
	raw := indexes["x86_64"]
	indexPath := apkRepo + "/x86_64/APKINDEX.tar.gz"
	refused := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "no key found to verify signature") {
			t.Errorf("%s: go-apk: want a signature failure, got %v", what, err)
		}
	}

	// A wrong key (a fresh RSA key) under the right name.
	wrong, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	mirror := apkMirror(t, s.url, nil)
	_, _, _, err = goapkIndexes(ctx, t, client, []string{mirror + apkRepo},
		map[string][]byte{keyName: apkPublicPEM(t, &wrong.PublicKey)}, "x86_64")
	refused("wrong key", err)
	if _, err := apkVerifyIndex(raw, map[string]*rsa.PublicKey{keyName: &wrong.PublicKey}); !errors.Is(err, rsa.ErrVerification) {
		t.Errorf("wrong key: want %v, got %v", rsa.ErrVerification, err)
	}

	// The right key under another file name: apk-tools looks the key up by
	// the name in .SIGN.RSA.<name> and calls the index UNTRUSTED. go-apk
	// ignores names (it tries every key it was given), so only our check
	// can catch a signature entry that names the wrong file.
	const otherName = "someone-else-6165ee59.rsa.pub"
	mirror = apkMirror(t, s.url, nil)
	_, _, _, err = goapkIndexes(ctx, t, client, []string{mirror + apkRepo},
		map[string][]byte{otherName: pubPEM}, "x86_64")
	t.Logf("right key as %s: go-apk says %v (it does not check key names)", otherName, err)
	if _, err := apkVerifyIndex(raw, map[string]*rsa.PublicKey{otherName: pub}); !errors.Is(err, errApkUntrusted) {
		t.Errorf("key under another name: want %v, got %v", errApkUntrusted, err)
	}

	// A tampered index: one flipped byte in the signed member, and an
	// edited APKINDEX recompressed as valid gzip behind the old signature.
	sigMember, _, err := apkNextMember(raw)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(raw)
	flipped[len(sigMember)+(len(raw)-len(sigMember))/2] ^= 0x01
	edited := apkEditIndex(t, raw, len(sigMember), "P:hello\n", "P:hellO\n")
	for name, bad := range map[string][]byte{"flipped byte": flipped, "edited index": edited} {
		mirror = apkMirror(t, s.url, map[string][]byte{indexPath: bad})
		_, _, _, err = goapkIndexes(ctx, t, client, []string{mirror + apkRepo},
			map[string][]byte{keyName: pubPEM}, "x86_64")
		refused("tampered index ("+name+")", err)
		if _, err := apkVerifyIndex(bad, keyring); !errors.Is(err, rsa.ErrVerification) {
			t.Errorf("tampered index (%s): want %v, got %v", name, rsa.ErrVerification, err)
		}
	}

	// Tampered packages, checked against the genuine signed index.
	pkg, st := uploads["hello x86_64"], stanzas["hello x86_64"]
	members := apkMembers(t, pkg)
	if len(members) != 3 {
		t.Fatalf("hello x86_64 has %d gzip members, want 3", len(members))
	}
	ctlOff, dataOff := len(members[0].raw), len(members[0].raw)+len(members[1].raw)
	// Byte 9 of a gzip member is its OS field: changing it leaves a valid
	// package whose compressed bytes, and so hashes, differ.
	ctlOS := bytes.Clone(pkg)
	ctlOS[ctlOff+9] ^= 0x01
	dataOS := bytes.Clone(pkg)
	dataOS[dataOff+9] ^= 0x01
	swapped := apkSwapPayload(t, pkg, dataOff, "x86_64 binary", "evil!! binary")
	for _, c := range []struct {
		name     string
		data     []byte
		want     error
		identity bool // whether C: still matches
	}{
		{"control member modified", ctlOS, errApkIdentity, false},
		{"data member modified", dataOS, errApkDatahash, true},
		{"payload replaced", swapped, errApkDatahash, true},
		{"byte appended", append(bytes.Clone(pkg), 0), errApkSize, true},
	} {
		err := apkCheckPackage(c.data, st)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: want %v, got %v", c.name, c.want, err)
		}
		if c.identity && errors.Is(err, errApkIdentity) {
			t.Errorf("%s: C: should still match: %v", c.name, err)
		}
	}
	// Through go-apk: it downloads the swapped package and parses it without
	// complaint (its pax checksums were updated too), since it never
	// compares a package with the index; the check above must refuse it.
	mirror = apkMirror(t, s.url, map[string][]byte{apkRepo + "/x86_64/hello-" + apkVersion + ".apk": swapped})
	idx, via, _, err := goapkIndexes(ctx, t, client, []string{mirror + apkRepo},
		map[string][]byte{keyName: pubPEM}, "x86_64")
	if err != nil || len(idx) != 1 {
		t.Fatalf("mirror: go-apk index: %v", err)
	}
	a, err := goapk.New(goapk.WithFS(apkfs.NewMemFS()), goapk.WithArch("x86_64"))
	if err != nil {
		t.Fatal(err)
	}
	a.SetClient(via)
	for _, p := range idx[0].Packages() {
		if p.Name != "hello" {
			continue
		}
		rc, err := a.FetchPackage(ctx, p)
		if err != nil {
			t.Fatalf("mirror: go-apk fetch: %v", err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		_, perr := goapk.ParsePackage(ctx, bytes.NewReader(data))
		t.Logf("payload replaced: go-apk parse says %v", perr)
		if err := apkCheckPackage(data, st); !errors.Is(err, errApkDatahash) {
			t.Errorf("payload replaced, via go-apk: want %v, got %v", errApkDatahash, err)
		}
	}
}

// apkBuild builds name 1.2.3-r0 for arch with one file holding payload,
// signed by signer when it is not nil.
func apkBuild(t *testing.T, name, arch, payload string, signer *rsa.PrivateKey) []byte {
	t.Helper()
	opts := apktest.Options{Name: name, Version: apkVersion, Arch: arch,
		Description: "test package " + name,
		Files:       map[string][]byte{"/usr/share/" + name + "/payload": []byte(payload)},
		SignKey:     signer, KeyName: "packager@example.org-e2e.rsa.pub"}
	if name == "hello" {
		opts.Depends = []string{"hello-doc"}
		opts.Provides = []string{"cmd:hello=" + apkVersion}
	}
	b, err := apktest.Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// apkMirror serves upstream at a new URL, with the bytes of override in
// place of the upstream's at those paths.
func apkMirror(t *testing.T, upstream string, override map[string][]byte) string {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, ok := override[r.URL.Path]; ok {
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func apkPublicPEM(t *testing.T, k *rsa.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// The checks below are written from apk-tools' behaviour (FORMATS.md 3.2 to
// 3.7), apart from Pier's reader, with archive/tar, compress/gzip and
// crypto/rsa.

var (
	// errApkUntrusted: no installed key has the name in .SIGN.RSA.<name>
	// (apk-tools: "UNTRUSTED signature").
	errApkUntrusted = errors.New("UNTRUSTED signature: no key file of that name")
	errApkIdentity  = errors.New("control member SHA-1 does not match the C: field")
	errApkDatahash  = errors.New("data member SHA-256 does not match the datahash of .PKGINFO")
	errApkSize      = errors.New("file size does not match the S: field")
)

// apkPublicKey reads a key file of /etc/apk/keys: a PEM "PUBLIC KEY"
// holding an RSA key.
func apkPublicKey(data []byte) (*rsa.PublicKey, error) {
	blk, rest := pem.Decode(data)
	if blk == nil || blk.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("not a single PEM PUBLIC KEY block")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, not RSA", k)
	}
	return rk, nil
}

// apkNextMember returns the first gzip member of b, compressed and
// decompressed.
func apkNextMember(b []byte) (raw, plain []byte, err error) {
	br := bytes.NewReader(b) // an io.ByteReader: gzip reads no further than the member
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, nil, err
	}
	zr.Multistream(false)
	plain, err = io.ReadAll(zr)
	if err != nil {
		return nil, nil, err
	}
	return b[:len(b)-br.Len()], plain, nil
}

type apkMember struct{ raw, plain []byte }

// apkSplit splits b into its gzip members.
func apkSplit(b []byte) ([]apkMember, error) {
	var out []apkMember
	for len(b) > 0 {
		raw, plain, err := apkNextMember(b)
		if err != nil {
			return nil, fmt.Errorf("gzip member %d: %w", len(out)+1, err)
		}
		out = append(out, apkMember{raw, plain})
		b = b[len(raw):]
	}
	return out, nil
}

func apkMembers(t *testing.T, b []byte) []apkMember {
	t.Helper()
	ms, err := apkSplit(b)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

type apkEntry struct {
	name string
	data []byte
}

// apkTar reads the regular entries of a tar stream; a cut stream (no
// end-of-archive blocks) is fine.
func apkTar(b []byte) ([]apkEntry, error) {
	var out []apkEntry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out = append(out, apkEntry{h.Name, data})
	}
}

// apkVerifyIndex checks an APKINDEX.tar.gz as apk-tools 2 does with the
// keys of /etc/apk/keys (file name → key) and returns the APKINDEX text:
// the first gzip member holds one .SIGN.RSA.<name> entry, <name> must be an
// installed key file, and its signature (RSA PKCS#1 v1.5, SHA-1) must cover
// exactly the compressed bytes after that member.
func apkVerifyIndex(b []byte, keys map[string]*rsa.PublicKey) (string, error) {
	sigRaw, sigPlain, err := apkNextMember(b)
	if err != nil {
		return "", fmt.Errorf("signature member: %w", err)
	}
	sigs, err := apkTar(sigPlain)
	if err != nil {
		return "", fmt.Errorf("signature member: %w", err)
	}
	if len(sigs) != 1 || !strings.HasPrefix(sigs[0].name, ".SIGN.RSA.") {
		return "", fmt.Errorf("signature member holds %d entries, first %q; want one .SIGN.RSA.<key>", len(sigs), firstName(sigs))
	}
	name := strings.TrimPrefix(sigs[0].name, ".SIGN.RSA.")
	key, ok := keys[name]
	if !ok {
		return "", fmt.Errorf("%w: signed by %q", errApkUntrusted, name)
	}
	signed := b[len(sigRaw):]
	digest := sha1.Sum(signed)
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA1, digest[:], sigs[0].data); err != nil {
		return "", fmt.Errorf("signature by %q: %w", name, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(signed))
	if err != nil {
		return "", fmt.Errorf("index member: %w", err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		return "", fmt.Errorf("index member: %w", err)
	}
	entries, err := apkTar(plain)
	if err != nil {
		return "", fmt.Errorf("index member: %w", err)
	}
	text := ""
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.name, ".SIGN."):
			return "", fmt.Errorf("signature entry %q after the signature member", e.name)
		case e.name == "APKINDEX":
			text = string(e.data)
		}
	}
	if text == "" {
		return "", errors.New("no APKINDEX entry")
	}
	return text, nil
}

func firstName(es []apkEntry) string {
	if len(es) == 0 {
		return ""
	}
	return es[0].name
}

// apkParseIndex splits APKINDEX text into stanzas of one-letter fields.
// apk-tools commits a stanza at a blank line, so every stanza, the last
// too, must end with one.
func apkParseIndex(text string) ([]map[string]string, error) {
	if !strings.HasSuffix(text, "\n\n") {
		return nil, errors.New("APKINDEX does not end with a blank line: the last package would be lost")
	}
	var out []map[string]string
	for _, block := range strings.Split(strings.TrimSuffix(text, "\n\n"), "\n\n") {
		st := map[string]string{}
		for _, l := range strings.Split(block, "\n") {
			if len(l) < 2 || l[1] != ':' {
				return nil, fmt.Errorf("line %q is not X:value", l)
			}
			if _, dup := st[l[:1]]; dup {
				return nil, fmt.Errorf("field %s twice in a stanza", l[:1])
			}
			st[l[:1]] = l[2:]
		}
		for _, f := range []string{"C", "P", "V", "A", "S"} {
			if st[f] == "" {
				return nil, fmt.Errorf("stanza %q has no %s:", block, f)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// apkCheckPackage checks a downloaded .apk against its index stanza as
// apk-tools does when installing from a repository: S: is the file size,
// C: is Q1 + base64(SHA-1) of the control member's compressed bytes, and
// .PKGINFO's datahash is the SHA-256 of the data member's compressed bytes.
// It reports every mismatch (errors.Join), so errors.Is finds each.
func apkCheckPackage(b []byte, st map[string]string) error {
	var errs []error
	if st["S"] != fmt.Sprint(len(b)) {
		errs = append(errs, fmt.Errorf("%w: %d bytes, S:%s", errApkSize, len(b), st["S"]))
	}
	ms, err := apkSplit(b)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if len(ms) > 0 {
		if es, err := apkTar(ms[0].plain); err == nil && len(es) > 0 && strings.HasPrefix(es[0].name, ".SIGN.") {
			ms = ms[1:] // the package's own signature, skipped for repository installs
		}
	}
	if len(ms) != 2 {
		return errors.Join(append(errs, fmt.Errorf("want control and data gzip members, found %d", len(ms)))...)
	}
	ctl, data := ms[0], ms[1]
	sum := sha1.Sum(ctl.raw)
	if c := "Q1" + base64.StdEncoding.EncodeToString(sum[:]); c != st["C"] {
		errs = append(errs, fmt.Errorf("%w: %s, C:%s", errApkIdentity, c, st["C"]))
	}
	entries, err := apkTar(ctl.plain)
	if err != nil || len(entries) == 0 || entries[0].name != ".PKGINFO" {
		return errors.Join(append(errs, fmt.Errorf("control member does not start with .PKGINFO (%v)", err))...)
	}
	info := map[string]string{}
	for _, l := range strings.Split(string(entries[0].data), "\n") {
		if k, v, ok := strings.Cut(l, " = "); ok && !strings.HasPrefix(l, "#") {
			info[k] = v
		}
	}
	dsum := sha256.Sum256(data.raw)
	switch dh := hex.EncodeToString(dsum[:]); {
	case info["datahash"] == "":
		errs = append(errs, errors.New(".PKGINFO has no datahash (apk-tools 3 refuses the package)"))
	case info["datahash"] != dh:
		errs = append(errs, fmt.Errorf("%w: %s, datahash %s", errApkDatahash, dh, info["datahash"]))
	}
	if info["pkgname"] != st["P"] || info["pkgver"] != st["V"] || info["arch"] != st["A"] {
		errs = append(errs, fmt.Errorf(".PKGINFO says %s %s %s, index %s %s %s",
			info["pkgname"], info["pkgver"], info["arch"], st["P"], st["V"], st["A"]))
	}
	if _, err := apkTar(data.plain); err != nil {
		errs = append(errs, fmt.Errorf("data member: %w", err))
	}
	return errors.Join(errs...)
}

// apkEditIndex returns index b (signature member sigLen bytes long) with
// old replaced by new in APKINDEX, recompressed, behind the same signature.
func apkEditIndex(t *testing.T, b []byte, sigLen int, old, new string) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b[sigLen:]))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	es, err := apkTar(entries)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.Write(b[:sigLen])
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	found := false
	for _, e := range es {
		if e.name == "APKINDEX" {
			found = strings.Contains(string(e.data), old)
			e.data = []byte(strings.Replace(string(e.data), old, new, 1))
		}
		tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg})
		tw.Write(e.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	if !found {
		t.Fatalf("APKINDEX has no %q to edit", old)
	}
	return out.Bytes()
}

// apkSwapPayload returns package b with a file's contents old replaced by
// new (same length) in its data member (at dataOff), its pax
// APK-TOOLS.checksum.SHA1 updated to match, recompressed: a valid package
// carrying other files.
func apkSwapPayload(t *testing.T, b []byte, dataOff int, old, new string) []byte {
	t.Helper()
	_, plain, err := apkNextMember(b[dataOff:])
	if err != nil {
		t.Fatal(err)
	}
	oldSum, newSum := sha1.Sum([]byte(old)), sha1.Sum([]byte(new))
	oldHex, newHex := []byte(hex.EncodeToString(oldSum[:])), []byte(hex.EncodeToString(newSum[:]))
	if len(old) != len(new) || !bytes.Contains(plain, []byte(old)) || !bytes.Contains(plain, oldHex) {
		t.Fatalf("cannot swap %q for %q in the data member", old, new)
	}
	plain = bytes.Replace(plain, []byte(old), []byte(new), 1)
	plain = bytes.Replace(plain, oldHex, newHex, 1)
	var out bytes.Buffer
	out.Write(b[:dataOff])
	zw := gzip.NewWriter(&out)
	zw.Write(plain)
	zw.Close()
	return out.Bytes()
}
