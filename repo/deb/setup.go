package deb

import (
	"fmt"
	"strings"

	"github.com/pierhq/pier/repo"
)

var (
	_ repo.PackagePather = (*Format)(nil)
	_ repo.SetupWriter   = (*Format)(nil)
)

// base returns a stream's apt base path, shared by all its releases.
func base(t repo.Target) string { return "deb/" + t.Stream + "/" }

// PackagePath returns where p is published: its pool path under the
// stream's apt base.
func (f *Format) PackagePath(t repo.Target, p *repo.Package) string {
	source := p.Name
	if m, err := decodeMeta(p.Meta); err == nil && len(m.source) > 0 {
		source = string(m.source)
	}
	return base(t) + poolPath(p, source)
}

// Setup returns the shell lines that trust Pier's key and add t as a
// deb822 .sources file with Signed-By.
func (f *Format) Setup(t repo.Target, info repo.SetupInfo) string {
	var b strings.Builder
	name := "pier-" + t.Stream + "-" + t.Release
	fmt.Fprintf(&b, "# Pier repository %s (signing key %s)\n", t, info.Fingerprint)
	b.WriteString("sudo install -d -m 0755 /etc/apt/keyrings\n")
	fmt.Fprintf(&b, "curl -fsSL %s/keys/pier.gpg | sudo tee /etc/apt/keyrings/pier.gpg >/dev/null\n", info.BaseURL)
	fmt.Fprintf(&b, "sudo tee /etc/apt/sources.list.d/%s.sources >/dev/null <<'EOF'\n", name)
	b.WriteString("Types: deb\n")
	fmt.Fprintf(&b, "URIs: %s/%s\n", info.BaseURL, strings.TrimSuffix(base(t), "/"))
	fmt.Fprintf(&b, "Suites: %s\n", t.Release)
	fmt.Fprintf(&b, "Components: %s\n", strings.Join(info.Components, " "))
	b.WriteString("Signed-By: /etc/apt/keyrings/pier.gpg\n")
	b.WriteString("EOF\n")
	b.WriteString("sudo apt-get update\n")
	return b.String()
}
