package deb

import (
	"context"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
	"gopkg.in/yaml.v3"
)

// releaseOf publishes an empty target t with cfg and returns its Release
// fields, or the Index error.
func releaseOf(t *testing.T, cfg Config, target repo.Target) (map[string]string, error) {
	t.Helper()
	f := New(cfg)
	in := &repo.IndexInput{Target: target, Time: goldenTime, Signer: fakeSigner{}}
	files, err := f.Index(context.Background(), in)
	if err != nil {
		return nil, err
	}
	dists := base(target) + "dists/" + target.Release + "/"
	for _, file := range files {
		if file.Path == dists+"Release" {
			fields, _ := parseRelease(t, file.Data)
			checkRepository(t, files, base(target), target.Release)
			return fields, nil
		}
	}
	t.Fatal("no Release")
	return nil, nil
}

func TestReleaseRules(t *testing.T) {
	nightly := repo.Target{Stream: "nightly", Distro: "debian", Release: "bookworm"}
	stable := repo.Target{Stream: "5.8", Distro: "ubuntu", Release: "noble"}
	kamailio := []ReleaseRule{
		{Targets: Patterns{"nightly/*/*"}, Label: "Kamailio nightly", Description: "Kamailio {stream} builds for {distro} {release}",
			NotAutomatic: true, ButAutomaticUpgrades: true},
		{Targets: Patterns{"nightly/*/*", "*/ubuntu/*"}, Label: "never: the first rule wins for nightly"},
		{Targets: Patterns{"*/*/*"}, Origin: "kamailio.org", Label: "Kamailio {stream}", Suite: "stable"},
	}
	tests := []struct {
		name   string
		cfg    Config
		target repo.Target
		want   map[string]string // "" means: the field is absent
	}{
		{"defaults", Config{}, nightly, map[string]string{"Origin": "Pier", "Label": "Pier", "Suite": "bookworm", "Codename": "bookworm",
			"Description": "Pier repository for nightly debian bookworm", "NotAutomatic": "", "ButAutomaticUpgrades": ""}},
		{"origin and label of the deb section", Config{Origin: "Example", Label: "Example repo"}, nightly,
			map[string]string{"Origin": "Example", "Label": "Example repo", "Suite": "bookworm"}},
		{"nightly rule", Config{Release: kamailio}, nightly, map[string]string{"Origin": "Pier", "Label": "Kamailio nightly", "Suite": "bookworm", "Codename": "bookworm",
			"Description": "Kamailio nightly builds for debian bookworm", "NotAutomatic": "yes", "ButAutomaticUpgrades": "yes"}},
		{"second rule", Config{Release: kamailio}, stable, map[string]string{"Label": "never: the first rule wins for nightly", "Origin": "Pier", "NotAutomatic": ""}},
		{"catch-all rule", Config{Release: kamailio}, repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"},
			map[string]string{"Origin": "kamailio.org", "Label": "Kamailio 5.8", "Suite": "stable", "Codename": "bookworm",
				"Description": "Pier repository for 5.8 debian bookworm", "NotAutomatic": ""}},
		{"not automatic alone", Config{Release: []ReleaseRule{{Targets: Patterns{"*/*/*"}, NotAutomatic: true}}}, stable,
			map[string]string{"NotAutomatic": "yes", "ButAutomaticUpgrades": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Defaults()
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			fields, err := releaseOf(t, cfg, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got, ok := fields[k]; got != v || ok != (v != "") {
					t.Errorf("%s: %q (present %v), want %q", k, got, ok, v)
				}
			}
		})
	}
}

// TestReleaseConflictingDistribution: a rule that names neither Suite nor
// Codename after the release is refused: apt warns "Conflicting
// distribution" for such a Release. With a glob release the check can
// only run at publish.
func TestReleaseConflictingDistribution(t *testing.T) {
	rule := ReleaseRule{Targets: Patterns{"nightly/*/*"}, Suite: "unstable", Codename: "sid"}
	cfg := Config{Release: []ReleaseRule{rule}}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	_, err := releaseOf(t, cfg, repo.Target{Stream: "nightly", Distro: "debian", Release: "bookworm"})
	if err == nil || !strings.Contains(err.Error(), "Conflicting distribution") || !strings.Contains(err.Error(), "deb.release") {
		t.Fatalf("Index: %v", err)
	}
	// The same rule for a target whose release it names works.
	if _, err := releaseOf(t, cfg, repo.Target{Stream: "nightly", Distro: "debian", Release: "sid"}); err != nil {
		t.Fatal(err)
	}
	// A plain release in the pattern is checked by Validate.
	cfg.Release[0].Targets = Patterns{"nightly/debian/bookworm"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "Conflicting distribution") {
		t.Fatalf("Validate: %v", err)
	}
}

func TestConfigReleaseYAML(t *testing.T) {
	const doc = `
contents: false
release:
  - targets: "nightly/*/*"
    label: Nightly {stream}
    not_automatic: true
    but_automatic_upgrades: true
  - targets: ["5.8/*/*", "5.7/*/*"]
    origin: Example
    suite: stable
    contents: true
limits:
  file_list: 1048576
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Contents != SwitchOff || c.Contents.On(true) || c.Limits.FileList != 1<<20 || len(c.Release) != 2 ||
		strings.Join(c.Release[0].Targets, " ") != "nightly/*/*" || !c.Release[0].NotAutomatic || !c.Release[0].ButAutomaticUpgrades ||
		strings.Join(c.Release[1].Targets, " ") != "5.8/*/* 5.7/*/*" || c.Release[1].Suite != "stable" ||
		c.Release[0].Contents != SwitchDefault || c.Release[1].Contents != SwitchOn {
		t.Fatalf("decoded %+v", c)
	}
	for _, bad := range []string{"contents: maybe\n", "release: [{targets: {a: b}}]\n", "release: [{targets: x, colour: red}]\n"} {
		var c Config
		dec := yaml.NewDecoder(strings.NewReader(bad))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
	var on Config
	if err := yaml.Unmarshal([]byte("contents: true\n"), &on); err != nil || on.Contents != SwitchOn {
		t.Errorf("contents: true decodes to %v, %v", on.Contents, err)
	}
	var unset Config
	unset.Defaults()
	if !unset.Contents.On(false) {
		t.Error("Contents is off by default")
	}
}

func TestConfigReleaseValidate(t *testing.T) {
	tests := []struct {
		name string
		rule ReleaseRule
		want string
	}{
		{"no targets", ReleaseRule{Label: "x"}, "targets must name"},
		{"bad pattern", ReleaseRule{Targets: Patterns{"nightly"}}, "stream/distro/release globs"},
		{"bad glob", ReleaseRule{Targets: Patterns{"[/*/*"}}, "syntax error in pattern"},
		{"label newline", ReleaseRule{Targets: Patterns{"*/*/*"}, Label: "a\nb"}, "label"},
		{"origin spaces", ReleaseRule{Targets: Patterns{"*/*/*"}, Origin: " x"}, "origin"},
		{"suite with a space", ReleaseRule{Targets: Patterns{"*/*/*"}, Suite: "a b"}, "one word"},
		{"codename with a space", ReleaseRule{Targets: Patterns{"*/*/*"}, Codename: "a b"}, "codename"},
		{"unknown placeholder", ReleaseRule{Targets: Patterns{"*/*/*"}, Label: "{version}"}, "unknown placeholder {version}"},
		{"open placeholder", ReleaseRule{Targets: Patterns{"*/*/*"}, Description: "a {stream"}, "without '}'"},
		{"upgrades without not automatic", ReleaseRule{Targets: Patterns{"*/*/*"}, ButAutomaticUpgrades: true}, "but_automatic_upgrades needs not_automatic"},
		{"conflicting distribution", ReleaseRule{Targets: Patterns{"*/debian/bookworm"}, Suite: "stable", Codename: "{stream}"}, "Conflicting distribution"},
	}
	for _, tt := range tests {
		var c Config
		c.Defaults()
		c.Release = []ReleaseRule{tt.rule}
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "deb: release[0]") {
			t.Errorf("%s: Validate() = %v, want an error about %q", tt.name, err, tt.want)
		}
	}
	var c Config
	c.Defaults()
	c.Limits.FileList = -1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "limits.file_list") {
		t.Errorf("file_list -1: %v", err)
	}
	// Templates that keep a plain release consistent pass.
	c.Limits.FileList = 0
	c.Release = []ReleaseRule{{Targets: Patterns{"*/debian/bookworm"}, Suite: "stable", Codename: "{release}"}}
	if err := c.Validate(); err != nil {
		t.Errorf("codename {release}: %v", err)
	}
}

// TestContentsPerTarget: a release rule turns Contents off (or on) for the
// targets it matches, whatever deb.contents says for the others.
func TestContentsPerTarget(t *testing.T) {
	hasContents := func(cfg Config, target repo.Target) bool {
		t.Helper()
		files, err := New(cfg).Index(context.Background(), &repo.IndexInput{Target: target, Time: goldenTime, Signer: fakeSigner{}})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range files {
			if strings.Contains(f.Path, "/Contents-") {
				n++
			}
		}
		return n > 0
	}
	nightly := repo.Target{Stream: "nightly", Distro: "debian", Release: "bookworm"}
	stable := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	for _, tt := range []struct {
		global, rule       Switch
		nightlyOn, otherOn bool
	}{
		{SwitchDefault, SwitchDefault, true, true},
		{SwitchDefault, SwitchOff, false, true},
		{SwitchOff, SwitchDefault, false, false},
		{SwitchOff, SwitchOn, true, false},
	} {
		cfg := Config{Contents: tt.global, Release: []ReleaseRule{{Targets: Patterns{"nightly/*/*"}, Label: "Nightly", Contents: tt.rule}}}
		if got := hasContents(cfg, nightly); got != tt.nightlyOn {
			t.Errorf("deb.contents %v, rule %v: nightly has Contents %v", tt.global, tt.rule, got)
		}
		if got := hasContents(cfg, stable); got != tt.otherOn {
			t.Errorf("deb.contents %v, rule %v: 5.8 has Contents %v", tt.global, tt.rule, got)
		}
	}
}
