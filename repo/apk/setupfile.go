package apk

import (
	"fmt"
	"strings"

	"github.com/pierhq/pier/repo"
)

// SetupFileName is the name of every apk target's repositories file, served
// in its root: /apk/<stream>/<distro>/<release>/pier.repositories. No
// repository file has that name: the root holds one folder per component.
const SetupFileName = "pier.repositories"

// SetupFilePaths returns the path, relative to Pier's public root, at which
// t's repositories file is served.
func (f *Format) SetupFilePaths(t repo.Target) []string {
	return []string{root(t) + SetupFileName}
}

// SetupFile returns t's lines for /etc/apk/repositories, one repository
// per component as /setup writes them, after comment lines that name the
// key apk needs in /etc/apk/keys (apk-tools skips lines starting with '#').
// apk reads keys only from /etc/apk/keys, so the key stays a second
// download. The lines carry no credentials: for a private target the
// comments say where the token goes. keys is not used.
func (f *Format) SetupFile(t repo.Target, info repo.SetupInfo, keys []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Pier repository %s, lines for /etc/apk/repositories.\n", t)
	if f.signer != nil {
		name := f.signer.KeyName()
		fmt.Fprintf(&b, "# apk trusts its indexes once Pier's key is installed:\n#   wget -O /etc/apk/keys/%s %s/keys/%s\n",
			name, info.BaseURL, name)
	}
	if info.Private {
		with := info.BaseURL
		if scheme, host, ok := strings.Cut(with, "://"); ok {
			with = scheme + "://pier:<token>@" + host
		}
		fmt.Fprintf(&b, "# Private: apk sends a token with read on %s as the password in each URL\n", t)
		fmt.Fprintf(&b, "# (HTTP Basic): write them as %s/%s/...\n", with, strings.TrimSuffix(root(t), "/"))
	}
	comps := info.Components
	if len(comps) == 0 {
		comps = []string{"main"}
	}
	for _, c := range comps {
		fmt.Fprintf(&b, "%s/%s\n", info.BaseURL, repoBase(t, c))
	}
	return b.String()
}
