package deb

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	want := Config{
		Origin: "Pier", Label: "Pier", Architectures: []string{"amd64", "arm64"},
		Limits:   Limits{ControlTar: 16 << 20, DataTar: 16 << 30, Control: 1 << 20, Name: 128, Version: 128, FileList: 64 << 20},
		Contents: SwitchOn,
	}
	if c.Origin != want.Origin || c.Label != want.Label || strings.Join(c.Architectures, " ") != "amd64 arm64" || c.Limits != want.Limits || c.ValidDays != 0 ||
		c.Contents != want.Contents || len(c.Release) != 0 {
		t.Fatalf("defaults = %+v, want %+v", c, want)
	}
}

func TestConfigYAML(t *testing.T) {
	const doc = `
origin: Example
label: Example repo
architectures: [amd64, riscv64]
valid_days: 7
limits:
  control_tar: 1048576
  data_tar: 1073741824
  control: 65536
  name: 64
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
	if c.Origin != "Example" || c.ValidDays != 7 || c.Limits.ControlTar != 1<<20 || c.Limits.DataTar != 1<<30 || c.Limits.Name != 64 || c.Limits.Version != 128 || c.Architectures[1] != "riscv64" {
		t.Fatalf("decoded %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"origin newline", func(c *Config) { c.Origin = "a\nb" }, "origin"},
		{"label spaces", func(c *Config) { c.Label = " x" }, "label"},
		{"arch all", func(c *Config) { c.Architectures = []string{"all"} }, `"all"`},
		{"arch bad", func(c *Config) { c.Architectures = []string{"AMD64"} }, "architectures"},
		{"arch dup", func(c *Config) { c.Architectures = []string{"amd64", "amd64"} }, "duplicates"},
		{"valid days", func(c *Config) { c.ValidDays = -1 }, "valid_days"},
		{"resign margin negative", func(c *Config) { c.ValidDays = 7; c.ResignMargin = -time.Hour }, "resign_margin"},
		{"resign margin too long", func(c *Config) { c.ValidDays = 1; c.ResignMargin = 24 * time.Hour }, "resign_margin"},
		{"control", func(c *Config) { c.Limits.Control = -1 }, "limits.control"},
		{"control tar", func(c *Config) { c.Limits.ControlTar = 10; c.Limits.Control = 100 }, "limits.control_tar"},
		{"data tar", func(c *Config) { c.Limits.DataTar = -1 }, "limits.data_tar"},
		{"name", func(c *Config) { c.Limits.Name = 1 }, "limits.name"},
		{"version", func(c *Config) { c.Limits.Version = -1 }, "limits.version"},
	}
	for _, tt := range tests {
		var c Config
		c.Defaults()
		tt.modify(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate() = %v, want an error about %q", tt.name, err, tt.want)
		}
	}
}
