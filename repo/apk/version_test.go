package apk

import (
	"strings"
	"testing"
)

// Vectors from FORMATS.md 3.8 and apk-tools' test/version.data (the subset
// that is valid in the current grammar), plus commit-hash and overflow cases.
const versionVectors = `
1.0_rc1 < 1.0
1.0 < 1.0-r1
1.0-r1 < 1.0_p1
1.0_p1 < 1.0a
1.0a < 1.0.1
1.2.3-r0 < 1.2.3-r10
1.01 < 1.1
1.0 = 1.0
1.0-r0 > 1.0
2.34 > 0.1.0_alpha
0.1.0_alpha = 0.1.0_alpha
0.1.0_alpha < 0.1.3_alpha
0.1.0_alpha2 > 0.1.0_alpha
1.0.4-r3 < 1.0.4-r4
1.1 > 1.1_alpha1
1.2.1 > 1.2
1.2 < 1.3_alpha
0.8_beta4 < 4.8-r1
3.10.18-r1 > 2.3.0b-r1
2.3.0b-r1 < 2.3.0b-r2
0.12.3 > 0.12
0.12 < 0.13_beta1
1.2.12.1 < 1.2.13
3.1_p16 < 3.1_p17
1.06-r6 < 006
006 > 1.0.0
1.2.2-r1 > 1.2.2
2.59 < 20050718-r1
3.9.8-r5 > 2.01.01_alpha10
0.94 < 1.0
1.39 > 1.00_beta2
1.02 < 1.03-r1
4.2.52_p2-r1 < 4.2.52_p4-r2
1.05-r18 < 1.05-r19
2.11-r1 > 2.11
20060720 > 3.0.20060720
2.5.1-r8 < 2.5.1a-r1
1.3.5-r10 > 1.3.5-r8
2.0.0_rc3-r1 > 1.5
3.0.0-r2 < 021109-r3
3.9_pre20060124 > 0.01
1.1.7 < 6b-r7
0.10.0-r1 > 0.10.0
0.10.0 < 0.10.1_rc1
1.1a < 1.3a
0.15.1b-r2 > 0.15.1b
22.7.3-r1 > 22.7
2.1_pre20 < 2.1_pre26
2.10.1 > 02.08.01b
1.6d > 1.2.07.8
1.2.07.8 < 1.2.12.04
0.59s-r11 < 0.65
4.5_p1-r1 > 4.5_p1
0.9.8c-r1 < 0.9.8d
1.7 < 1.7b
1.8.5 < 1.8.5_p2
2.9.11_pre20051101-r3 > 2.9.11_pre20051101
1.6.8_p12-r1 > 1.6.8_p9-r2
0.9.28-r2 < 0.9.28.1
087-r1 < 103
2.12r-r4 < 2.12r-r5
7.0.17 < 7.0.174
0.20070118 < 0.20070207_rc1
1.3_pre1-r1 < 1.3.2
1.0_p10-r0 > 1.0_p9-r0
0.1.0_alpha_pre2 < 0.1.0_alpha
1.0.0_pre20191002222144-r0 < 1.0.0_pre20210530193627-r0
1.0_alpha < 1.0_beta
1.0_beta < 1.0_pre
1.0_pre < 1.0_rc
1.0_cvs < 1.0_svn
1.0_svn < 1.0_git
1.0_git < 1.0_hg
1.0_hg < 1.0_p
1.0 < 1.0_cvs
1.0~abc < 1.0~abd
1.0 < 1.0~abc
1.0~abc > 1.0-r1
1.0~abc-r1 > 1.0~abc-r0
99999999999999999999999 < 100000000000000000000000
1.99999999999999999999999 < 1.100000000000000000000000
`

func TestCompareVersions(t *testing.T) {
	f := &Format{}
	for line := range strings.SplitSeq(strings.TrimSpace(versionVectors), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("bad vector %q", line)
		}
		a, op, b := fields[0], fields[1], fields[2]
		want := map[string]int{"<": -1, "=": 0, ">": 1}[op]
		t.Run(a+op+b, func(t *testing.T) {
			for _, v := range []string{a, b} {
				if !ValidVersion(v) {
					t.Errorf("ValidVersion(%q) = false", v)
				}
			}
			if got := sign(f.Compare(a, b)); got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", a, b, got, want)
			}
			if got := sign(f.Compare(b, a)); got != -want {
				t.Errorf("Compare(%q, %q) = %d, want %d", b, a, got, -want)
			}
		})
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestValidVersion(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"1", true},
		{"1.2.3-r0", true},
		{"1.2.3a_rc1_p2~deadbeef-r10", true},
		{"0.59s-r11", true},
		{"2.1_pre20", true},
		{"", false},
		{"v1.0", false},         // must start with a digit
		{"1.0-1", false},        // Debian revision
		{"1.0-r", false},        // revision without a number
		{"1.0_foo", false},      // unknown suffix
		{"1.0_", false},         // empty suffix
		{"1.0ab", false},        // two letters
		{"1.0a1", false},        // a number after the letter
		{"1.0a.1", false},       // a dot after the letter
		{"1.0-r1-r2", false},    // two revisions
		{"1.0~", false},         // empty hash
		{"1.0~xyz", false},      // not hex
		{"1.0~ABC", false},      // upper-case hex is not a hash
		{"1.0-r1_p1", false},    // suffix after the revision
		{"1.0~ab~cd", false},    // two hashes
		{"1.0~ab_p1", false},    // suffix after the hash
		{"1..0", false},         // empty number
		{"1.0.", false},         // trailing dot
		{"1.0 ", false},         // space
		{"1.0/../../x", false},  // path characters
		{"1.0\n", false},        // newline
		{"1.0-r1.2", false},     // dot after the revision
		{"1.0_rc1_alpha", true}, // several suffixes
	}
	for _, tt := range tests {
		if got := ValidVersion(tt.v); got != tt.want {
			t.Errorf("ValidVersion(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

// TestCompareVersionsOrder checks that sorting with Compare is a total
// order on a mixed list: antisymmetric and transitive.
func TestCompareVersionsOrder(t *testing.T) {
	vs := []string{"1.0_rc1", "1.0", "1.0-r1", "1.0_p1", "1.0a", "1.0.1", "1.01", "1.1", "1.0~ab", "2", "1.0_alpha", "1.0_git1"}
	for _, a := range vs {
		for _, b := range vs {
			ab, ba := sign(CompareVersions(a, b)), sign(CompareVersions(b, a))
			if ab != -ba {
				t.Errorf("Compare(%q,%q)=%d but Compare(%q,%q)=%d", a, b, ab, b, a, ba)
			}
			for _, c := range vs {
				if ab < 0 && sign(CompareVersions(b, c)) < 0 && sign(CompareVersions(a, c)) >= 0 {
					t.Errorf("not transitive: %q < %q < %q but not %q < %q", a, b, c, a, c)
				}
			}
		}
	}
}

// TestValidVersion214: apk-tools 2.14's grammar for dependency versions
// (src/version.c of 2.14-stable): no ~hash, and empty digit runs after
// "." and "-r" and an empty suffix after "_" are valid.
func TestValidVersion214(t *testing.T) {
	for v, want := range map[string]bool{
		"1": true, "1.2.3": true, "1.2.3a": true, "1.0_rc1": true, "1.0_p1-r3": true, "1.0-r0": true,
		"1.": true, "1.a": true, "1_": true, "1-r": true, "2.0_alpha_beta2": true,
		"": false, "a1": false, "1.0~abc": false, "0unstable": false, "1.0-1": false, "1ab": false,
		"1_foo": false, "1-r1-r2": false, "1.0 ": false, "1_alpha.2": false, "1-r1a": false,
	} {
		if got := validVersion214(v); got != want {
			t.Errorf("validVersion214(%q) = %v, want %v", v, got, want)
		}
	}
}
