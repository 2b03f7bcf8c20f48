package deb

import (
	"fmt"
	"strings"

	"github.com/pierhq/pier/repo"
)

var (
	_ repo.PackagePather = (*Format)(nil)
	_ repo.SetupWriter   = (*Format)(nil)
	_ repo.Layout        = (*Format)(nil)
)

// base returns a target's archive root, deb/<stream>/<distro>/: the URI of
// its sources line, shared by the releases of one stream and distro (they
// share the pool). Every target's root contains its distro, so no two
// distros can publish to the same URL.
func base(t repo.Target) string { return "deb/" + t.Stream + "/" + t.Distro + "/" }

// Prefixes implements repo.Layout: the target's dists/<release>/ and the
// pool it shares with the stream's other releases of its distro.
func (f *Format) Prefixes(t repo.Target) []string {
	return []string{base(t) + "dists/" + t.Release + "/", base(t) + "pool/"}
}

// Alias implements repo.Layout. Pier's first releases published every deb
// target of a stream under deb/<stream>/ (dists/<release>/ and a pool shared
// by all distros); the first target to claim deb/<stream>/dists/<release>/
// keeps being served there, with its pool files under deb/<stream>/pool/.
func (f *Format) Alias(t repo.Target) (repo.Alias, bool) {
	old := "deb/" + t.Stream + "/"
	return repo.Alias{Claim: old + "dists/" + t.Release + "/", From: base(t), To: old}, true
}

// PackagePath returns where p is published: its pool path under the
// stream's apt base (for a source package, its .dsc's).
func (f *Format) PackagePath(t repo.Target, p *repo.Package) string {
	if isSourceMeta(p.Meta) {
		return base(t) + sourceDir(p) + "/" + dscName(p)
	}
	source := p.Name
	if m, err := decodeMeta(p.Meta); err == nil && len(m.source) > 0 {
		source = string(m.source)
	}
	return base(t) + poolPath(p, source)
}

// Setup returns the shell lines that trust Pier's key and add t as a
// deb822 .sources file with Signed-By. For a private target they first
// write the read token (from $PIER_READ_TOKEN) into an apt auth.conf.d
// file for the stream's base URL; apt sends it with HTTP Basic.
func (f *Format) Setup(t repo.Target, info repo.SetupInfo) string {
	var b strings.Builder
	name := "pier-" + t.Stream + "-" + t.Release
	uri := info.BaseURL + "/" + strings.TrimSuffix(base(t), "/")
	fmt.Fprintf(&b, "# Pier repository %s (%s)\n", t, signingKeys(info))
	if info.Private {
		fmt.Fprintf(&b, "# Private: apt sends a token with read on %s (HTTP Basic, the token as password).\n", t)
		fmt.Fprintf(&b, ": \"${PIER_READ_TOKEN:?set PIER_READ_TOKEN to a token with read on %s}\"\n", t)
		auth := "/etc/apt/auth.conf.d/pier-" + t.Stream + ".conf"
		b.WriteString("sudo install -d -m 0755 /etc/apt/auth.conf.d\n")
		fmt.Fprintf(&b, "sudo tee %s >/dev/null <<EOF\n", auth)
		fmt.Fprintf(&b, "machine %s\nlogin pier\npassword $PIER_READ_TOKEN\nEOF\n", authMachine(uri))
		fmt.Fprintf(&b, "sudo chmod 0600 %s\n", auth)
	}
	b.WriteString("sudo install -d -m 0755 /etc/apt/keyrings\n")
	fmt.Fprintf(&b, "curl -fsSL %s/keys/pier.gpg | sudo tee /etc/apt/keyrings/pier.gpg >/dev/null\n", info.BaseURL)
	fmt.Fprintf(&b, "sudo tee /etc/apt/sources.list.d/%s.sources >/dev/null <<'EOF'\n", name)
	sourcesStanza(&b, t, info, " /etc/apt/keyrings/pier.gpg")
	b.WriteString("EOF\n")
	b.WriteString("sudo apt-get update\n")
	return b.String()
}

// sourcesStanza writes t's deb822 sources stanza, the one /setup writes and
// SetupFile serves; signedBy is the Signed-By value as written after the
// colon (a path, or a key block on continuation lines).
func sourcesStanza(b *strings.Builder, t repo.Target, info repo.SetupInfo, signedBy string) {
	b.WriteString("Types: deb deb-src\n")
	fmt.Fprintf(b, "URIs: %s/%s\n", info.BaseURL, strings.TrimSuffix(base(t), "/"))
	fmt.Fprintf(b, "Suites: %s\n", t.Release)
	fmt.Fprintf(b, "Components: %s\n", strings.Join(info.Components, " "))
	fmt.Fprintf(b, "Signed-By:%s\n", signedBy)
}

// signingKeys names every key that signs the repository: "signing key X"
// or, during a rotation, "signing keys X, Y".
func signingKeys(info repo.SetupInfo) string {
	fprs := info.Fingerprints
	if len(fprs) == 0 && info.Fingerprint != "" {
		fprs = []string{info.Fingerprint}
	}
	if len(fprs) == 1 {
		return "signing key " + fprs[0]
	}
	return "signing keys " + strings.Join(fprs, ", ")
}

// authMachine is the machine of an apt auth.conf entry for uri: without
// the scheme for https (such entries match https only), with it otherwise.
func authMachine(uri string) string {
	if rest, ok := strings.CutPrefix(uri, "https://"); ok {
		return rest
	}
	return uri
}
