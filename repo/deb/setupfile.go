package deb

import (
	"fmt"
	"strings"

	"github.com/pierhq/pier/repo"
)

// SetupFileName is the name of every deb target's deb822 sources file,
// served beside its Release: /deb/<stream>/<distro>/dists/<release>/pier.sources.
// No repository file has that name: dists/<release>/ holds InRelease,
// Release, Release.gpg and the component folders.
const SetupFileName = "pier.sources"

// SetupFilePaths returns the path, relative to Pier's public root, at which
// t's sources file is served: deb/<stream>/<distro>/dists/<release>/pier.sources.
func (f *Format) SetupFilePaths(t repo.Target) []string {
	return []string{base(t) + "dists/" + t.Release + "/" + SetupFileName}
}

// SetupFile returns t's sources file: the deb822 stanza /setup writes,
// with keys (the armored public keys of Pier's ring, what /keys/pier.asc
// serves) embedded in Signed-By, so that the one file is all apt needs in
// /etc/apt/sources.list.d/. apt reads a key block in Signed-By since
// 2.3.10 (Debian 12, Ubuntu 22.04); its continuation lines start with a
// space and an empty line is written " ." (sources.list(5)). Without keys
// Signed-By names /etc/apt/keyrings/pier.gpg, as /setup does. The file
// carries no credentials: for a private target its comments say where the
// token goes.
func (f *Format) SetupFile(t repo.Target, info repo.SetupInfo, keys []byte) string {
	var b strings.Builder
	name := "pier-" + t.Stream + "-" + t.Release
	fmt.Fprintf(&b, "# Pier repository %s (%s).\n", t, signingKeys(info))
	fmt.Fprintf(&b, "# Save it as /etc/apt/sources.list.d/%s.sources", name)
	signedBy := " /etc/apt/keyrings/pier.gpg"
	if k := strings.TrimSpace(string(keys)); k != "" {
		b.WriteString(" (apt 2.4 or later: the key is in Signed-By).\n")
		var sb strings.Builder
		for _, l := range strings.Split(k, "\n") {
			if l = strings.TrimRight(l, " \t\r"); l == "" {
				l = "."
			}
			sb.WriteString("\n " + l)
		}
		signedBy = sb.String()
	} else {
		fmt.Fprintf(&b, "; apt checks it with %s/keys/pier.gpg saved as /etc/apt/keyrings/pier.gpg.\n", info.BaseURL)
	}
	if info.Private {
		uri := info.BaseURL + "/" + strings.TrimSuffix(base(t), "/")
		fmt.Fprintf(&b, "# Private: apt sends a token with read on %s from /etc/apt/auth.conf.d/pier-%s.conf:\n", t, t.Stream)
		fmt.Fprintf(&b, "# \"machine %s login pier password <token>\" (mode 0600).\n", authMachine(uri))
	}
	sourcesStanza(&b, t, info, signedBy)
	return b.String()
}
