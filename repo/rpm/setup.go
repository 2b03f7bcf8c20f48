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
// against their own signatures only if they carry one. For a private
// target the read token (from $PIER_READ_TOKEN) goes into the .repo as
// username/password (dnf) or into a zypp credentials file, the clients
// send it with HTTP Basic, and the key comes from Pier's public /keys/.
func (f *Format) Setup(t repo.Target, info repo.SetupInfo) string {
	id := "pier-" + t.Stream + "-" + t.Distro + "-" + t.Release
	base := info.BaseURL + "/rpm/" + t.Stream + "/" + t.Distro + "/" + t.Release + "/"
	key := base + "repodata/repomd.xml.key"
	heredoc, quiet := "<<'EOF'", ""
	if info.Private {
		key = info.BaseURL + "/keys/pier.asc"
		heredoc, quiet = "<<EOF", " >/dev/null"
	}
	var b strings.Builder
	fprs := info.Fingerprints
	if len(fprs) == 0 && info.Fingerprint != "" {
		fprs = []string{info.Fingerprint}
	}
	switch {
	case len(fprs) == 1:
		fmt.Fprintf(&b, "# Repository signing key fingerprint: %s\n", fprs[0])
	case len(fprs) > 1:
		fmt.Fprintf(&b, "# Repository signing key fingerprints: %s\n", strings.Join(fprs, ", "))
	}
	if info.Private {
		fmt.Fprintf(&b, "# Private: the client sends a token with read on %s (HTTP Basic, the token as password).\n", t)
		fmt.Fprintf(&b, ": \"${PIER_READ_TOKEN:?set PIER_READ_TOKEN to a token with read on %s}\"\n", t)
	}
	fmt.Fprintf(&b, "sudo rpm --import %s\n", key)
	if d := strings.ToLower(t.Distro); strings.Contains(d, "suse") || strings.Contains(d, "sles") {
		baseURL := base
		if info.Private {
			creds := "/etc/zypp/credentials.d/" + id
			b.WriteString("sudo install -d -m 0755 /etc/zypp/credentials.d\n")
			fmt.Fprintf(&b, "sudo tee %s >/dev/null <<EOF\nusername=pier\npassword=$PIER_READ_TOKEN\nEOF\n", creds)
			fmt.Fprintf(&b, "sudo chmod 0600 %s\n", creds)
			baseURL += "?credentials=" + id
		}
		fmt.Fprintf(&b, "sudo tee /etc/zypp/repos.d/%s.repo%s %s\n", id, quiet, heredoc)
		fmt.Fprintf(&b, "[%s]\nname=Pier %s %s %s\nbaseurl=%s\nenabled=1\nautorefresh=1\ntype=rpm-md\n", id, t.Stream, t.Distro, t.Release, baseURL)
		fmt.Fprintf(&b, "gpgcheck=1\nrepo_gpgcheck=1\ngpgkey=%s\nEOF\n", key)
		fmt.Fprintf(&b, "sudo zypper refresh %s\n", id)
		return b.String()
	}
	fmt.Fprintf(&b, "sudo tee /etc/yum.repos.d/%s.repo%s %s\n", id, quiet, heredoc)
	fmt.Fprintf(&b, "[%s]\nname=Pier %s %s %s\nbaseurl=%s\nenabled=1\n", id, t.Stream, t.Distro, t.Release, base)
	if info.Private {
		b.WriteString("username=pier\npassword=$PIER_READ_TOKEN\n")
	}
	gpgcheck := 0
	if f.signs(t) {
		gpgcheck = 1
	}
	fmt.Fprintf(&b, "repo_gpgcheck=1\ngpgcheck=%d\ngpgkey=%s\nmetadata_expire=300\nEOF\n", gpgcheck, key)
	if info.Private {
		fmt.Fprintf(&b, "sudo chmod 0600 /etc/yum.repos.d/%s.repo\n", id)
	}
	fmt.Fprintf(&b, "sudo dnf makecache --repo %s\n", id)
	return b.String()
}
