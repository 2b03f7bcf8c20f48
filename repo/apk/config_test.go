package apk

import (
	"slices"
	"strings"
	"testing"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.Defaults()
	if !slices.Equal(c.Architectures, []string{"x86_64", "aarch64"}) || !slices.Equal(c.Components, []string{"main"}) ||
		c.MaxPkgInfoSize != 1<<20 || c.MaxControlSize != 16<<20 || c.MaxNameLength != 128 || c.CompressionLevel != 6 {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	c = Config{Architectures: []string{"riscv64"}, MaxNameLength: 64}
	c.Defaults()
	if !slices.Equal(c.Architectures, []string{"riscv64"}) || c.MaxNameLength != 64 {
		t.Errorf("Defaults overwrote set fields: %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"ok", func(*Config) {}, ""},
		{"no architectures", func(c *Config) { c.Architectures = nil }, "architectures must not be empty"},
		{"noarch directory", func(c *Config) { c.Architectures = []string{"noarch"} }, "not a directory architecture"},
		{"bad architecture", func(c *Config) { c.Architectures = []string{"x86/64"} }, `arch "x86/64"`},
		{"duplicate architecture", func(c *Config) { c.Architectures = []string{"x86_64", "x86_64"} }, "duplicates"},
		{"bad component", func(c *Config) { c.Components = []string{".."} }, "component"},
		{"duplicate component", func(c *Config) { c.Components = []string{"main", "main"} }, "duplicates"},
		{"negative pkginfo", func(c *Config) { c.MaxPkgInfoSize = -1 }, "max_pkginfo_size"},
		{"control below pkginfo", func(c *Config) { c.MaxControlSize = 10 }, "max_control_size"},
		{"data", func(c *Config) { c.MaxDataSize = -5 }, "max_data_size"},
		{"name length", func(c *Config) { c.MaxNameLength = 5000 }, "max_name_length"},
		{"level", func(c *Config) { c.CompressionLevel = 10 }, "compression_level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			c.Defaults()
			tt.modify(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
