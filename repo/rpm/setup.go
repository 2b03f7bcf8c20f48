package rpm

import (
	"fmt"
	"strings"

	"github.com/pierhq/pier/repo"
)

var (
	_ repo.PackagePather = (*Format)(nil)
	_ repo.SetupWriter   = (*Format)(nil)
)

// PackagePath returns where p is published in t:
// "rpm/<stream>/<distro>/<release>/" + packageHref.
func (f *Format) PackagePath(t repo.Target, p *repo.Package) string {
	v := parseEVR(p.Version)
	return "rpm/" + t.Stream + "/" + t.Distro + "/" + t.Release + "/" + packageHref(p.Arch, p.Name, v.Epoch, v.Version, v.Release)
}

// Setup tells a user how to add t to dnf/yum, or to zypper for SUSE
// distros. The repository's metadata is signed (repo_gpgcheck), which
// covers every package's checksum; the packages themselves are checked
// against their own signatures only if they carry one.
func (f *Format) Setup(t repo.Target, info repo.SetupInfo) string {
	id := "pier-" + t.Stream + "-" + t.Distro + "-" + t.Release
	base := info.BaseURL + "/rpm/" + t.Stream + "/" + t.Distro + "/" + t.Release + "/"
	key := base + "repodata/repomd.xml.key"
	var b strings.Builder
	if info.Fingerprint != "" {
		fmt.Fprintf(&b, "# Repository signing key fingerprint: %s\n", info.Fingerprint)
	}
	fmt.Fprintf(&b, "sudo rpm --import %s\n", key)
	if d := strings.ToLower(t.Distro); strings.Contains(d, "suse") || strings.Contains(d, "sles") {
		fmt.Fprintf(&b, "sudo tee /etc/zypp/repos.d/%s.repo <<'EOF'\n", id)
		fmt.Fprintf(&b, "[%s]\nname=Pier %s %s %s\nbaseurl=%s\nenabled=1\nautorefresh=1\ntype=rpm-md\n", id, t.Stream, t.Distro, t.Release, base)
		fmt.Fprintf(&b, "gpgcheck=1\nrepo_gpgcheck=1\ngpgkey=%s\nEOF\n", key)
		fmt.Fprintf(&b, "sudo zypper refresh %s\n", id)
		return b.String()
	}
	fmt.Fprintf(&b, "sudo tee /etc/yum.repos.d/%s.repo <<'EOF'\n", id)
	fmt.Fprintf(&b, "[%s]\nname=Pier %s %s %s\nbaseurl=%s\nenabled=1\n", id, t.Stream, t.Distro, t.Release, base)
	gpgcheck := 0
	if f.signs(t) {
		gpgcheck = 1
	}
	fmt.Fprintf(&b, "repo_gpgcheck=1\ngpgcheck=%d\ngpgkey=%s\nmetadata_expire=300\nEOF\n", gpgcheck, key)
	fmt.Fprintf(&b, "sudo dnf makecache --repo %s\n", id)
	return b.String()
}
