package rpm

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
)

// TestRepoNames: ids and names from rpm.repos (first match wins, a field
// left empty keeps its default), the defaults of today's output for
// targets no entry matches, and target characters dnf refuses in an id.
func TestRepoNames(t *testing.T) {
	f := New(Config{Repos: []RepoName{
		{Targets: []string{"5.8/el/*", "5.8/fedora/*"}, ID: "kamailio-{stream}-{distro}{release}", Name: "Kamailio {stream} for {distro} {release}"},
		{Targets: []string{"5.8/*/*"}, ID: "never-reached", Name: "never reached"},
		{Targets: []string{"nightly/*/*"}, Name: "Kamailio nightly ({release})"},
		{Targets: []string{"5.7/*/*"}, ID: "kamailio-57"},
	}})
	for _, c := range []struct {
		target, id, name string
	}{
		{"5.8/el/9", "kamailio-5.8-el9", "Kamailio 5.8 for el 9"},
		{"5.8/fedora/41", "kamailio-5.8-fedora41", "Kamailio 5.8 for fedora 41"},
		{"5.8/opensuse/15.6", "never-reached", "never reached"},
		{"nightly/el/9", "pier-nightly-el-9", "Kamailio nightly (9)"},
		{"5.7/el/8", "kamailio-57", "Pier 5.7 el 8"},
		{"6.0/el/9", "pier-6.0-el-9", "Pier 6.0 el 9"},
		// '+' and '~' are valid in target names, not in dnf repo ids.
		{"6.0+dev/el/9~beta", "pier-6.0_dev-el-9_beta", "Pier 6.0+dev el 9~beta"},
	} {
		tg, err := repo.ParseTarget(c.target)
		if err != nil {
			t.Fatal(err)
		}
		id, name := f.repoNames(tg)
		if id != c.id || name != c.name {
			t.Errorf("%s: id %q name %q, want %q %q", c.target, id, name, c.id, c.name)
		}
		for i := 0; i < len(id); i++ {
			if !validRepoIDChar(id[i]) {
				t.Errorf("%s: id %q has %q, which dnf refuses", c.target, id, id[i])
			}
		}
		wantPaths := []string{"rpm/" + c.target + "/pier.repo", "rpm/" + c.target + "/" + c.id + ".repo"}
		if got := f.SetupFilePaths(tg); !slices.Equal(got, wantPaths) {
			t.Errorf("%s: SetupFilePaths %q, want %q", c.target, got, wantPaths)
		}
	}
	// An id of "pier" is served once, at pier.repo.
	g := New(Config{Repos: []RepoName{{Targets: []string{"*/*/*"}, ID: "pier"}}})
	if got := g.SetupFilePaths(repo.Target{Stream: "5.8", Distro: "el", Release: "9"}); !slices.Equal(got, []string{"rpm/5.8/el/9/pier.repo"}) {
		t.Errorf("id pier: SetupFilePaths %q", got)
	}
}

// TestRepoNamesValidate: the configurations Validate refuses, each for
// the reason it names, and ones it takes.
func TestRepoNamesValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		r    RepoName
		want string // "" = valid
	}{
		{"id and name", RepoName{Targets: []string{"5.8/el/*"}, ID: "k-{stream}.{release}:x_y", Name: "Kamailio $releasever {stream}"}, ""},
		{"name only", RepoName{Targets: []string{"*/*/*"}, Name: "Kamailio"}, ""},
		{"no targets", RepoName{ID: "k"}, "targets is empty"},
		{"two-part pattern", RepoName{Targets: []string{"5.8/el"}, ID: "k"}, "stream/distro/release glob"},
		{"bad glob", RepoName{Targets: []string{"5.8/[/x"}, ID: "k"}, "stream/distro/release glob"},
		{"nothing set", RepoName{Targets: []string{"*/*/*"}}, "neither id nor name"},
		{"slash in id", RepoName{Targets: []string{"*/*/*"}, ID: "k/{stream}"}, `'/' is not allowed`},
		{"space in id", RepoName{Targets: []string{"*/*/*"}, ID: "k {stream}"}, `' ' is not allowed`},
		{"dollar in id", RepoName{Targets: []string{"*/*/*"}, ID: "k$releasever"}, `'$' is not allowed`},
		{"hidden id", RepoName{Targets: []string{"*/*/*"}, ID: ".k"}, "starts with a dot"},
		{"unknown placeholder", RepoName{Targets: []string{"*/*/*"}, ID: "k-{arch}"}, "only placeholders"},
		{"stray brace in name", RepoName{Targets: []string{"*/*/*"}, Name: "K {stream"}, "only placeholders"},
		{"newline in name", RepoName{Targets: []string{"*/*/*"}, Name: "K\nbaseurl=http://evil/"}, "control character"},
		{"padded name", RepoName{Targets: []string{"*/*/*"}, Name: " K"}, "white space"},
	} {
		cfg := Config{Repos: []RepoName{c.r}}
		cfg.Defaults()
		err := cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one with %q", c.name, err, c.want)
		}
	}
}

// TestSetupFileGolden: the .repo files served for dnf and zypper targets,
// public and private, with default and configured names; the /setup text
// of a target with configured names writes the same section.
func TestSetupFileGolden(t *testing.T) {
	el := repo.Target{Stream: "5.8", Distro: "el", Release: "9"}
	suse := repo.Target{Stream: "5.8", Distro: "opensuse", Release: "15.6"}
	one := repo.SetupInfo{BaseURL: "https://pier.example.org", Fingerprint: "AAAA1111", Fingerprints: []string{"AAAA1111"}}
	private := one
	private.Private = true
	plain := New(Config{})
	named := New(Config{Repos: []RepoName{{Targets: []string{"5.8/*/*"}, ID: "kamailio-{stream}-{distro}-{release}",
		Name: "Kamailio {stream} ({distro} {release})"}}})
	for _, c := range []struct {
		golden string
		f      *Format
		t      repo.Target
		info   repo.SetupInfo
	}{
		{"repofile-el.repo", plain, el, one},
		{"repofile-el-private.repo", plain, el, private},
		{"repofile-opensuse.repo", plain, suse, one},
		{"repofile-opensuse-private.repo", plain, suse, private},
		{"repofile-el-named.repo", named, el, one},
	} {
		got := c.f.SetupFile(c.t, c.info, []byte("ignored"))
		checkSetupGolden(t, c.golden, []byte(got))
		// The section is the one /setup writes into its .repo file.
		setup := c.f.Setup(c.t, c.info)
		section := got[strings.Index(got, "\n[")+1:]
		if c.info.Private && !zypperTarget(c.t) {
			for _, e := range []string{"enabled=1\n", "enabled=0\n"} {
				section = strings.Replace(section, e, e+"username=pier\npassword=$PIER_READ_TOKEN\n", 1)
			}
		}
		// The source repository's section follows, disabled.
		id, _ := c.f.repoNames(c.t)
		if !strings.Contains(got, "\n["+id+"-source]\n") || !strings.Contains(got, "/source/") ||
			strings.Count(got, "enabled=0\n") != 1 {
			t.Errorf("%s: no disabled [%s-source] section naming source/:\n%s", c.golden, id, got)
		}
		if !strings.Contains(setup, "\n"+section+"EOF\n") {
			t.Errorf("%s: /setup does not write the served section:\n%s\n--- served\n%s", c.golden, setup, got)
		}
		if strings.Contains(got, "$PIER_READ_TOKEN") || strings.Contains(got, "password=") && !strings.Contains(got, "password=<token>") {
			t.Errorf("%s: the served file carries credentials:\n%s", c.golden, got)
		}
	}
	checkSetupGolden(t, "setup-el-named.txt", []byte(named.Setup(el, one)))
}

// TestSetupFileDnf5Options: every key of a served dnf .repo is a repository
// option of dnf 5 (libdnf5/repo/config_repo.cpp), whose `config-manager
// addrepo --from-repofile` refuses a file with an unknown key, and the file
// is one section after comment lines, with no comment or blank line inside
// it (libdnf5's ConfigParser keeps those in the section as items "#N",
// which addrepo then checks as options; before the first section they are
// the file's header).
func TestSetupFileDnf5Options(t *testing.T) {
	known := map[string]bool{}
	for _, k := range strings.Fields(`name enabled cachedir baseurl mirrorlist metalink type mediaid gpgkey excludepkgs
		exclude includepkgs fastestmirror proxy proxy_username proxy_password proxy_auth_method username password
		protected_packages pkg_gpgcheck gpgcheck repo_gpgcheck enablegroups retries bandwidth minrate ip_resolve
		throttle timeout max_parallel_downloads metadata_expire cost priority module_hotfixes sslcacert sslverify
		sslclientcert sslclientkey proxy_sslcacert proxy_sslverify proxy_sslclientcert proxy_sslclientkey deltarpm
		deltarpm_percentage skip_if_unavailable enabled_metadata user_agent countme build_cache`) {
		known[k] = true
	}
	signing := New(Config{SignPackages: true}).WithSigningKey(newTestKeys(t).eddsa)
	el := repo.Target{Stream: "5.8", Distro: "el", Release: "9"}
	for _, info := range []repo.SetupInfo{
		{BaseURL: "https://pier.example.org", Fingerprints: []string{"AAAA1111"}},
		{BaseURL: "https://pier.example.org", Fingerprints: []string{"AAAA1111"}, Private: true},
	} {
		for _, f := range []*Format{New(Config{}), signing} {
			text := f.SetupFile(el, info, nil)
			sections := 0
			for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
				switch {
				case strings.HasPrefix(l, "#"):
					if sections > 0 {
						t.Errorf("comment inside the section: %q", l)
					}
				case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
					sections++
				default:
					k, _, ok := strings.Cut(l, "=")
					if !ok || !known[k] || sections == 0 {
						t.Errorf("line %q is not a dnf 5 repository option of the section:\n%s", l, text)
					}
				}
			}
			if sections != 2 { // the repository and its source repository
				t.Errorf("%d sections, want 2:\n%s", sections, text)
			}
			want := "gpgcheck=0\n"
			if f == signing {
				want = "gpgcheck=1\n"
			}
			if !strings.Contains(text, "\n"+want) || !strings.Contains(text, "\nrepo_gpgcheck=1\n") {
				t.Errorf("signing %v: want %q and repo_gpgcheck=1:\n%s", f == signing, want, text)
			}
		}
	}
}

func checkSetupGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update after checking the change):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
