package deb

import (
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	f := New(Config{})
	tests := []struct {
		a, b string
		want int
	}{
		// FORMATS.md 1.10.
		{"1.0~rc1", "1.0", -1},
		{"1.0", "1.0+b1", -1},
		{"1.0+b1", "1.0.1", -1},
		{"1:0.9", "2.0", 1},
		{"1.0a", "1.0+", -1},
		{"1.0", "1.0-0", 0},
		// Epochs.
		{"1.0", "0:1.0", 0},
		{"1:1.0", "1.9", 1},
		{"10:1", "9:2", 1},
		{"99999999999999999999:1", "1:1", 1},
		{"007:1", "7:1", 0},
		// Tilde sorts before everything, even the end.
		{"1.0~", "1.0", -1},
		{"1.0~~", "1.0~", -1},
		{"1.0~~a", "1.0~", -1},
		{"1.0~rc1", "1.0~rc2", -1},
		{"1.0~beta", "1.0~alpha", 1},
		{"1.0-1~bpo1", "1.0-1", -1},
		// Numbers compare as numbers.
		{"1.2.3", "1.2.10", -1},
		{"2.30-1", "2.4-1", 1},
		{"1.01", "1.1", 0},
		{"1.0.0", "1.0", 1},
		{"1.18446744073709551616", "1.18446744073709551615", 1},
		// Letters sort before non-letters, upper case before lower case.
		{"1.0a", "1.0", 1},
		{"1.0A", "1.0a", -1},
		{"1.0a", "1.0.", -1},
		{"0.1", "0.1+dfsg", -1},
		// Revisions.
		{"1.0-1", "1.0-2", -1},
		{"1.0-1", "1.0-1ubuntu1", -1},
		{"1.0-1ubuntu1", "1.0-1.1", -1},
		{"1.0-9", "1.0-10", -1},
		{"1-1-1", "1-1-2", -1},
		{"1.0-1+deb12u1", "1.0-1", 1},
		// Equal.
		{"2:4.9.2-1", "2:4.9.2-1", 0},
		{"", "", 0},
		// Malformed versions are still ordered without panicking.
		{"a:1", "1", 1},
		{":1", "1", 0},
	}
	for _, tt := range tests {
		if got := f.Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := f.Compare(tt.b, tt.a); got != -tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestVersionProblem(t *testing.T) {
	tests := []struct {
		v    string
		want string // "" for valid, else a substring of the reason
	}{
		{"1", ""},
		{"1.0", ""},
		{"0:1.0-1", ""},
		{"1:2.10-3", ""},
		{"1.0-1-2", ""},
		{"1.0~rc1+dfsg-0ubuntu1~22.04.1", ""},
		{"1:1.0:2", ""},
		{"2147483647:1", ""},
		{" 1.0\t", ""},  // dpkg trims blanks
		{"+1:1.0", ""},  // strtol reads a signed epoch
		{"-0:1.0", ""},  // and -0 is not negative
		{"1:2:3-4", ""}, // colons after the epoch belong to upstream
		{"", "empty"},
		{":1", "empty epoch"},
		{"a:1", "empty epoch"}, // strtol reads no digit
		{"1a:1", "must be a number"},
		{"-1:1", "negative"},
		{"1:", "nothing after the colon"},
		{"2147483648:1", "too big"},
		{"1.0-", "empty revision"},
		{"-1", "empty upstream"},
		{"v1", "start with a digit"},
		{"1.0_1", "character '_'"},
		{"1.0-1_1", "revision"},
		{"1:1.0-1:1", "revision"},
		{"1 0", "spaces"},
		{"1.0\n", "character '\\n'"},
		{"1.0\v", "character '\\v'"},
		{strings.Repeat("1", 200), "longer than 128"},
	}
	for _, tt := range tests {
		got := versionProblem(tt.v, 128)
		if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
			t.Errorf("versionProblem(%q) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestPackageNameProblem(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		// dpkg's pkg_name_is_illegal accepts all of these; dpkg and apt
		// read them in lower case.
		{"hello", ""},
		{"a", ""},
		{"Hello", ""},
		{"hello_world", ""},
		{"0ad", ""},
		{"libstdc++6", ""},
		{"", "empty"},
		{"-hello", "must start with a letter or digit"},
		{"_hello", "must start with a letter or digit"},
		{"hello world", "' '"},
		{"hello/world", "'/'"},
		{"héllo", "not allowed"},
		{strings.Repeat("a", 129), "too long: 129 characters, at most 128"},
	}
	for _, tt := range tests {
		got := packageNameProblem(tt.name, 128)
		if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
			t.Errorf("packageNameProblem(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestNameProblem(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"hello", ""},
		{"libstdc++6", ""},
		{"0ad", ""},
		{"python3.12-dev", ""},
		{"a+", ""},
		{"", "empty"},
		{"a", "too short"},
		{"Hello", "upper-case"},
		{"-hello", "must start"},
		{".hello", "must start"},
		{"+hello", "must start"},
		{"hello world", "' '"},
		{"hello/world", "'/'"},
		{"héllo", "contains the character"},
		{strings.Repeat("a", 129), "too long: 129 characters, at most 128"},
	}
	for _, tt := range tests {
		got := nameProblem("source name", tt.name, 128)
		if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
			t.Errorf("nameProblem(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestArchProblem(t *testing.T) {
	tests := []struct {
		arch string
		want string
	}{
		{"amd64", ""},
		{"all", ""},
		{"arm64", ""},
		{"musl-linux-amd64", ""},
		{"", "empty"},
		{"any", "not valid"},
		{"source", "not valid"},
		{"AMD64", "must start"},
		{"amd_64", "'_'"},
		{"amd64 arm64", "' '"},
		{"-amd64", "must start"},
	}
	for _, tt := range tests {
		got := archProblem(tt.arch, 128)
		if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
			t.Errorf("archProblem(%q) = %q, want %q", tt.arch, got, tt.want)
		}
	}
}
