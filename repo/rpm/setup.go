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
// "rpm/<stream>/<distro>/<release>/" + packageHref, with SourceDir before
// it for a source package.
func (f *Format) PackagePath(t repo.Target, p *repo.Package) string {
	v := parseEVR(p.Version)
	base := rootPath(t)
	if p.Arch == "src" {
		base += SourceDir
	}
	return base + packageHref(p.Arch, p.Name, v.Epoch, v.Version, v.Release)
}

// Setup tells a user how to add t to dnf/yum, or to zypper for SUSE
// distros. The repository's metadata is signed (repo_gpgcheck), which
// covers every package's checksum; the packages themselves are checked
// against their own signatures only if they carry one. For a private
// target the read token (from $PIER_READ_TOKEN) goes into the .repo as
// username/password (dnf) or into a zypp credentials file, the clients
// send it with HTTP Basic, and the key comes from Pier's public /keys/.
// The .repo section is the one SetupFile serves (rpm.repos names it).
func (f *Format) Setup(t repo.Target, info repo.SetupInfo) string {
	id, _ := f.repoNames(t)
	key := keyURL(t, info)
	heredoc, quiet := "<<'EOF'", ""
	if info.Private {
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
	if zypperTarget(t) {
		if info.Private {
			creds := "/etc/zypp/credentials.d/" + id
			b.WriteString("sudo install -d -m 0755 /etc/zypp/credentials.d\n")
			fmt.Fprintf(&b, "sudo tee %s >/dev/null <<EOF\nusername=pier\npassword=$PIER_READ_TOKEN\nEOF\n", creds)
			fmt.Fprintf(&b, "sudo chmod 0600 %s\n", creds)
		}
		fmt.Fprintf(&b, "sudo tee /etc/zypp/repos.d/%s.repo%s %s\n", id, quiet, heredoc)
		f.repoSection(&b, t, info, "")
		fmt.Fprintf(&b, "EOF\nsudo zypper refresh %s\n", id)
		return b.String()
	}
	fmt.Fprintf(&b, "sudo tee /etc/yum.repos.d/%s.repo%s %s\n", id, quiet, heredoc)
	password := ""
	if info.Private {
		password = "$PIER_READ_TOKEN"
	}
	f.repoSection(&b, t, info, password)
	b.WriteString("EOF\n")
	if info.Private {
		fmt.Fprintf(&b, "sudo chmod 0600 /etc/yum.repos.d/%s.repo\n", id)
	}
	fmt.Fprintf(&b, "sudo dnf makecache --repo %s\n", id)
	return b.String()
}
