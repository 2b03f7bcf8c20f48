// Package apk is Pier's Alpine (apk v2) format: it reads .apk packages,
// writes signed APKINDEX.tar.gz repositories and orders versions the way
// apk-tools does.
//
// Published layout, per target stream/alpine/release:
//
//	apk/<stream>/<release>/<component>/<arch>/APKINDEX.tar.gz
//	apk/<stream>/<release>/<component>/<arch>/<name>-<version>.apk
//
// so that a client's /etc/apk/repositories holds
// https://host/apk/<stream>/<release>/<component>. noarch packages are
// published in every architecture directory.
//
// Read accepts exactly the packages apk-tools 2.14 installs (see
// docs/acceptance/apk.md), and Verify reads a generation's indexes back as
// apk-tools does before the generation goes live.
//
// # Meta
//
// The catalog record of a package (repo.Parsed.Meta) is the package's
// APKINDEX stanza exactly as published: lines "X:value\n" in apk's order
// C P V A S I T U L o m t c k D p i, starting with "C:Q1", without the blank
// line that ends a stanza in an index. Everything in it is known at upload
// time (S: is the file size), so a publish only concatenates stanzas. A
// future encoding would start with a byte other than 'C'.
package apk

import (
	"crypto/rsa"
	"fmt"
	"strings"

	"github.com/pierhq/pier/repo"
)

// IndexSigner signs APKINDEX.tar.gz files with an RSA key. Index calls it
// from several goroutines at once.
type IndexSigner interface {
	// KeyName is the file name of the public key that clients install in
	// /etc/apk/keys (for example "pier-6165ee59.rsa.pub"). apk-tools looks
	// the key up by this name.
	KeyName() string
	// SignSHA1 returns the RSA PKCS#1 v1.5 signature of the SHA-1 digest of
	// data.
	SignSHA1(data []byte) ([]byte, error)
	// Public returns the public half of the signing key; Verify checks
	// every published index against it.
	Public() *rsa.PublicKey
}

// Digests are the digests Pier must compute over uploaded apk files.
var Digests = []repo.Digest{repo.SHA256}

// Format is the apk format. It is immutable and safe for concurrent use.
type Format struct {
	cfg    Config
	signer IndexSigner
}

var (
	_ repo.Format        = (*Format)(nil)
	_ repo.PackagePather = (*Format)(nil)
	_ repo.Layout        = (*Format)(nil)
	_ repo.SetupWriter   = (*Format)(nil)
	_ repo.Verifier      = (*Format)(nil)
)

// New returns the apk format. cfg gets its defaults filled in; the caller
// validates it. A nil signer publishes unsigned indexes, which apk accepts
// only with --allow-untrusted.
func New(cfg Config, signer IndexSigner) *Format {
	cfg.Defaults()
	return &Format{cfg: cfg, signer: signer}
}

// Name returns "apk".
func (f *Format) Name() string { return "apk" }

// Compare orders two apk versions as apk-tools does (see CompareVersions).
func (f *Format) Compare(a, b string) int { return CompareVersions(a, b) }

// PackagePath returns where p is published in t: its architecture's
// directory, or the first configured architecture's for a noarch package
// (which is published in every architecture directory).
func (f *Format) PackagePath(t repo.Target, p *repo.Package) string {
	arch := p.Arch
	if arch == noarch {
		arch = f.cfg.Architectures[0]
	}
	return repoDir(t, p.Component, arch) + "/" + packageFile(p.Name, p.Version)
}

// Setup tells a user how to add t to apk: install Pier's public key (served
// at keys/<KeyName>) and add one repository line per component. For a
// private target the line carries the read token (from $PIER_READ_TOKEN)
// as the URL's password, which apk sends with HTTP Basic.
func (f *Format) Setup(t repo.Target, info repo.SetupInfo) string {
	var b strings.Builder
	base := info.BaseURL
	if info.Private {
		fmt.Fprintf(&b, "# Private: apk sends a token with read on %s (HTTP Basic, the token as password in the\n", t)
		b.WriteString("# repository URL; /etc/apk/repositories is world-readable: restrict it if that matters).\n")
		fmt.Fprintf(&b, ": \"${PIER_READ_TOKEN:?set PIER_READ_TOKEN to a token with read on %s}\"\n", t)
		if scheme, host, ok := strings.Cut(base, "://"); ok {
			base = scheme + "://pier:$PIER_READ_TOKEN@" + host
		}
	}
	if f.signer != nil {
		name := f.signer.KeyName()
		fmt.Fprintf(&b, "wget -O /etc/apk/keys/%s %s/keys/%s\n", name, info.BaseURL, name)
	}
	comps := info.Components
	if len(comps) == 0 {
		comps = []string{"main"}
	}
	for _, c := range comps {
		if info.Private {
			fmt.Fprintf(&b, "echo \"%s/%s\" >> /etc/apk/repositories\n", base, repoBase(t, c))
			continue
		}
		fmt.Fprintf(&b, "echo %s/%s >> /etc/apk/repositories\n", base, repoBase(t, c))
	}
	b.WriteString("apk update\n")
	return b.String()
}

// root is a target's apk root, apk/<stream>/<distro>/<release>/: every
// target's root contains its distro, so no two distros can publish to the
// same URL.
func root(t repo.Target) string { return "apk/" + t.Stream + "/" + t.Distro + "/" + t.Release + "/" }

// repoBase is a component's repository path, the line a client adds to
// /etc/apk/repositories (after the host).
func repoBase(t repo.Target, component string) string {
	return root(t) + component
}

// Prefixes implements repo.Layout.
func (f *Format) Prefixes(t repo.Target) []string { return []string{root(t)} }

// Alias implements repo.Layout. Pier's first releases published apk targets
// at apk/<stream>/<release>/, without the distro; the first target to claim
// that root keeps being served there.
func (f *Format) Alias(t repo.Target) (repo.Alias, bool) {
	old := "apk/" + t.Stream + "/" + t.Release + "/"
	return repo.Alias{Claim: old, From: root(t), To: old}, true
}

func repoDir(t repo.Target, component, arch string) string {
	return repoBase(t, component) + "/" + arch
}

func packageFile(name, version string) string { return name + "-" + version + ".apk" }
