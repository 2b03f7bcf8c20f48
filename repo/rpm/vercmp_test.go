package rpm

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// vercmpCases are rpmvercmp cases from rpm's test suite and FORMATS.md 2.11.
var vercmpCases = []struct {
	a, b string
	want int
}{
	{"1.0", "1.0", 0},
	{"1.0", "2.0", -1},
	{"2.0", "1.0", 1},
	{"2.0.1", "2.0.1", 0},
	{"2.0", "2.0.1", -1},
	{"2.0.1", "2.0", 1},
	{"2.0.1a", "2.0.1a", 0},
	{"2.0.1a", "2.0.1", 1},
	{"2.0.1", "2.0.1a", -1},
	{"5.5p1", "5.5p1", 0},
	{"5.5p1", "5.5p2", -1},
	{"5.5p2", "5.5p1", 1},
	{"5.5p10", "5.5p10", 0},
	{"5.5p1", "5.5p10", -1},
	{"5.5p10", "5.5p1", 1},
	{"10xyz", "10.1xyz", -1},
	{"10.1xyz", "10xyz", 1},
	{"xyz10", "xyz10", 0},
	{"xyz10", "xyz10.1", -1},
	{"xyz10.1", "xyz10", 1},
	{"xyz.4", "xyz.4", 0},
	{"xyz.4", "8", -1},
	{"8", "xyz.4", 1},
	{"xyz.4", "2", -1},
	{"2", "xyz.4", 1},
	{"5.5p2", "5.6p1", -1},
	{"5.6p1", "5.5p2", 1},
	{"5.6p1", "6.5p1", -1},
	{"6.5p1", "5.6p1", 1},
	{"6.0.rc1", "6.0", 1},
	{"6.0", "6.0.rc1", -1},
	{"10b2", "10a1", 1},
	{"10a2", "10b2", -1},
	{"1.0aa", "1.0aa", 0},
	{"1.0a", "1.0aa", -1},
	{"1.0aa", "1.0a", 1},
	{"10.0001", "10.0001", 0},
	{"10.0001", "10.1", 0},
	{"10.1", "10.0001", 0},
	{"10.0001", "10.0039", -1},
	{"10.0039", "10.0001", 1},
	{"4.999.9", "5.0", -1},
	{"5.0", "4.999.9", 1},
	{"20101121", "20101121", 0},
	{"20101121", "20101122", -1},
	{"20101122", "20101121", 1},
	{"2_0", "2_0", 0},
	{"2.0", "2_0", 0},
	{"2_0", "2.0", 0},
	{"a", "a", 0},
	{"a+", "a+", 0},
	{"a+", "a_", 0},
	{"a_", "a+", 0},
	{"+a", "+a", 0},
	{"+a", "_a", 0},
	{"_a", "+a", 0},
	{"+_", "+_", 0},
	{"_+", "+_", 0},
	{"_+", "_", 0},
	{"+", "_", 0},
	{"_", "+", 0},
	{"1.0~rc1", "1.0~rc1", 0},
	{"1.0~rc1", "1.0", -1},
	{"1.0", "1.0~rc1", 1},
	{"1.0~rc1", "1.0~rc2", -1},
	{"1.0~rc2", "1.0~rc1", 1},
	{"1.0~rc1~git123", "1.0~rc1~git123", 0},
	{"1.0~rc1~git123", "1.0~rc1", -1},
	{"1.0~rc1", "1.0~rc1~git123", 1},
	{"1.0^", "1.0^", 0},
	{"1.0^", "1.0", 1},
	{"1.0", "1.0^", -1},
	{"1.0^git1", "1.0^git1", 0},
	{"1.0^git1", "1.0", 1},
	{"1.0", "1.0^git1", -1},
	{"1.0^git1", "1.0^git2", -1},
	{"1.0^git2", "1.0^git1", 1},
	{"1.0^git1", "1.01", -1},
	{"1.01", "1.0^git1", 1},
	{"1.0^20160101", "1.0^20160101", 0},
	{"1.0^20160101", "1.0.1", -1},
	{"1.0.1", "1.0^20160101", 1},
	{"1.0^20160101^git1", "1.0^20160101^git1", 0},
	{"1.0^20160102", "1.0^20160101^git1", 1},
	{"1.0^20160101^git1", "1.0^20160102", -1},
	{"1.0~rc1^git1", "1.0~rc1^git1", 0},
	{"1.0~rc1^git1", "1.0~rc1", 1},
	{"1.0~rc1", "1.0~rc1^git1", -1},
	{"1.0^git1~pre", "1.0^git1~pre", 0},
	{"1.0^git1", "1.0^git1~pre", 1},
	{"1.0^git1~pre", "1.0^git1", -1},
	// Where go-rpmutils (no caret support) disagrees with rpm.
	{"1.0^1", "1.0a", -1},
	{"1.0a", "1.0^1", 1},
	// FORMATS.md 2.11.
	{"1.0~rc1", "1.0", -1},
	{"1.0", "1.0^git1", -1},
	{"1.0^git1", "1.0.1", -1},
	{"1.10", "1.9", 1},
	{"1.0a", "1.0", 1},
	{"2a", "2.0", -1},
	{"1.0", "1_0", 0},
	{"1.0", "1.0.", 0},
	// Non-ASCII bytes are separators.
	{"1.1.α", "1.1.α", 0},
	{"1.1.α", "1.1", 0},
	{"", "", 0},
	{"", "1", -1},
	{"1", "", 1},
	{"~", "", -1},
	{"^", "", 1},
}

func TestRpmvercmp(t *testing.T) {
	for _, tc := range vercmpCases {
		if got := rpmvercmp(tc.a, tc.b); got != tc.want {
			t.Errorf("rpmvercmp(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestCompare(t *testing.T) {
	f := newTestFormat()
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.0-1", "1.0-1", 0},
		{"1.0-1", "1.0-2", -1},
		{"1.0-10", "1.0-9", 1},
		{"0:1.0-1", "1.0-1", 0},
		{"1:1.0-1", "2.0-1", 1},
		{"1:1.0-1", "2:0.1-1", -1},
		{"10:1-1", "9:2-1", 1},
		{"007:1-1", "7:1-1", 0},
		{"1.0~rc1-1", "1.0-1", -1},
		{"1.0^git1-1", "1.0-1", 1},
		{"1.0^git1-1", "1.0.1-1", -1},
		{"1.0-1.el9", "1.0-1.el9_1", -1},
		{"1.0-1.fc40", "1.0-1.fc41", -1},
		{"2.0", "2.0-1", -1}, // a missing release sorts first
		{"1.2.3-4.5-6", "1.2.3-4.5-7", -1},
		{"99999999999999999999:1-1", "99999999999999999998:1-1", 1},
	} {
		if got := f.Compare(tc.a, tc.b); got != tc.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := f.Compare(tc.b, tc.a); got != -tc.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestParseEVR(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want evr
	}{
		{"1.0-1", evr{"", "1.0", "1"}},
		{"3:1.0-1", evr{"3", "1.0", "1"}},
		{"1.0", evr{"", "1.0", ""}},
		{"a:1-2", evr{"", "a:1", "2"}},
		{"1-2-3", evr{"", "1-2", "3"}},
		{":1-2", evr{"", "1", "2"}},
	} {
		if got := parseEVR(tc.in); got != tc.want {
			t.Errorf("parseEVR(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// FuzzRpmvercmp checks that rpmvercmp is antisymmetric and reflexive.
func FuzzRpmvercmp(f *testing.F) {
	for _, tc := range vercmpCases {
		f.Add(tc.a, tc.b)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, ba := rpmvercmp(a, b), rpmvercmp(b, a)
		if ab != -ba {
			t.Fatalf("rpmvercmp(%q, %q) = %d but rpmvercmp(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		if ab < -1 || ab > 1 {
			t.Fatalf("rpmvercmp(%q, %q) = %d", a, b, ab)
		}
		if rpmvercmp(a, a) != 0 {
			t.Fatalf("rpmvercmp(%q, %q) != 0", a, a)
		}
	})
}

// TestRpmvercmpLibrpmio checks rpmvercmp against random pairs compared by
// rpm's own librpmio (testdata/vercmp-librpmio.tsv, see the README there).
func TestRpmvercmpLibrpmio(t *testing.T) {
	b, err := os.ReadFile("testdata/vercmp-librpmio.tsv")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("bad line %q", line)
		}
		want, err := strconv.Atoi(f[2])
		if err != nil {
			t.Fatal(err)
		}
		if got := rpmvercmp(f[0], f[1]); got != want {
			t.Errorf("rpmvercmp(%q, %q) = %d, librpmio says %d", f[0], f[1], got, want)
		}
		n++
	}
	if n < 1000 {
		t.Fatalf("only %d vectors", n)
	}
}
