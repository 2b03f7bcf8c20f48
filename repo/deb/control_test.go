package deb

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseStanza(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []field
		err  string
	}{
		{
			name: "simple",
			in:   "Package: hello\nVersion: 1.0\n",
			want: []field{{"Package", "hello"}, {"Version", "1.0"}},
		},
		{
			name: "whitespace around values",
			in:   "Package:   hello  \t\nVersion:1.0\n",
			want: []field{{"Package", "hello"}, {"Version", "1.0"}},
		},
		{
			name: "continuation lines kept exactly",
			in:   "Description: short\n long\n .\n  indented \n\ttab\nX: y\n",
			want: []field{{"Description", "short\n long\n .\n  indented \n\ttab"}, {"X", "y"}},
		},
		{
			name: "empty first line",
			in:   "Description:\n long\n",
			want: []field{{"Description", "\n long"}},
		},
		{
			name: "empty value",
			in:   "X:\nY: 1\n",
			want: []field{{"X", ""}, {"Y", "1"}},
		},
		{
			name: "leading newlines and trailing blank lines",
			in:   "\n\nPackage: a\n\n\n",
			want: []field{{"Package", "a"}},
		},
		{
			name: "CRLF values trimmed at the end",
			in:   "Package: a\r\nVersion: 1\r\n",
			want: []field{{"Package", "a"}, {"Version", "1"}},
		},
		{
			name: "colon in value",
			in:   "Homepage: https://example.org:8080/x\n",
			want: []field{{"Homepage", "https://example.org:8080/x"}},
		},
		// dpkg's parser (lib/dpkg/parse.c) accepts these.
		{name: "spaces before the colon", in: "Package : a\nVersion\t: 1\n", want: []field{{"Package", "a"}, {"Version", "1"}}},
		{name: "field name starting with #", in: "#A: x\n", want: []field{{"#A", "x"}}},
		{name: "non-ASCII name", in: "Ä: x\n", want: []field{{"Ä", "x"}}},
		{name: "vertical tab continuation", in: "A: x\n\vy\n", want: []field{{"A", "x\n\vy"}}},
		// dpkg's parser refuses these.
		{name: "empty", in: "", err: "control file is empty"},
		{name: "only newlines", in: "\n\n\n", err: "control file is empty"},
		{name: "no final newline", in: "Package: a\nVersion: 1", err: "line 2: the file ends in the value of field \"Version\" (missing final newline"},
		{name: "empty last value", in: "Package: a\nX:\n", err: "the file ends in the value of field \"X\""},
		{name: "empty last value without newline", in: "Package: a\nX:", err: "the file ends in the value of field \"X\""},
		{name: "duplicate, other case", in: "Package: a\npackage: b\n", err: `duplicate field "package"`},
		{name: "second stanza", in: "A: 1\n\nB: 2\n", err: "line 3: more than one stanza"},
		{name: "whitespace-only line", in: "A: 1\n \n continued\n", err: `blank line in value of field "A"`},
		{name: "whitespace-only last line", in: "A: 1\n  \n", err: `blank line in value of field "A"`},
		{name: "CRLF blank line", in: "A: 1\r\n\r\n", err: `carriage return`},
		{name: "leading whitespace line", in: "  \nA: 1\n", err: "line 1: empty field name"},
		{name: "continuation first", in: " A: 1\n", err: "line 1: empty field name"},
		{name: "no colon", in: "A: 1\nB\n", err: `newline in field name "B"`},
		{name: "empty name", in: ": x\n", err: "empty field name"},
		{name: "name with space", in: "A B: x\n", err: `field name "A" must be followed by a colon`},
		{name: "name starts with dash", in: "-A: x\n", err: "cannot start with '-'"},
		{name: "comment line", in: "# comment\nA: x\n", err: `field name "#" must be followed by a colon`},
		{name: "end after name", in: "A", err: "end of file after field name"},
		// Refused because apt would read them differently.
		{name: "long name", in: strings.Repeat("X", 129) + ": x\n", err: "longer than 128 bytes"},
		{name: "NUL", in: "A: \x00\n", err: "NUL"},
		{name: "^Z", in: "A: x\x1aB: y\n", err: "^Z"},
		{name: "CR continuation", in: "A: x\n\ry\n", err: "carriage return"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := parseStanza([]byte(tt.in), 128)
			if tt.err != "" {
				if !strings.Contains(reason, tt.err) {
					t.Fatalf("reason %q, want %q", reason, tt.err)
				}
				return
			}
			if reason != "" {
				t.Fatalf("unexpected error %q", reason)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			again, reason := parseStanza(renderStanza(got), 128)
			if reason != "" || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip: %q %q", again, reason)
			}
		})
	}
}

func TestSplitStanza(t *testing.T) {
	fields := []field{
		{"Description", "d\n long"},
		{"X-Unknown-B", "b"},
		{"depends", "libc6"},
		{"SHA256", "00"},
		{"Homepage", "https://example.org"},
		{"Version", "1"},
		{"Status", "install ok installed"},
		{"X-Unknown-A", "a"},
		{"Package", "p"},
		{"Tag", "t"},
		{"Filename", "f"},
		{"Size", "1"},
		{"MD5sum", "00"},
		{"sha1", "00"},
		{"SHA512", "00"},
		{"Architecture", "amd64"},
		{"Installed-Size", "1"},
		{"Description-md5", "00"},
		{"Task", "x"},
		{"Pre-Depends", "dpkg"},
	}
	head, tail := splitStanza(fields)
	wantHead := "Package: p\nArchitecture: amd64\nVersion: 1\nInstalled-Size: 1\nPre-Depends: dpkg\nDepends: libc6\n"
	wantTail := "Homepage: https://example.org\nDescription: d\n long\nDescription-md5: 00\nTag: t\nTask: x\nX-Unknown-B: b\nX-Unknown-A: a\n"
	if head != wantHead {
		t.Errorf("head:\n%s\nwant:\n%s", head, wantHead)
	}
	if tail != wantTail {
		t.Errorf("tail:\n%s\nwant:\n%s", tail, wantTail)
	}
}

func TestMetaRoundTrip(t *testing.T) {
	tests := []Meta{
		{Source: "hello", MD5: "00ff", SHA1: "ab", Head: "Package: hello\n", Tail: "Description: x\n", Files: []string{}},
		{Source: "hello", Head: "Package: hello\n", Files: []string{"etc/a b", "usr/bin/hello", "usr/bin/hello2", "usr/share/doc/hello/copyright"}},
		{Source: "hello", Head: "Package: hello\n", Tail: "Description: x\n", Legacy: true},
		{Files: []string{}},
	}
	for _, m := range tests {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Meta
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("got %+v, want %+v", got, m)
		}
	}
	for _, bad := range []string{"", "deb1", "deb1 a b c\n", "deb2 a b c 0\n", "deb1 a b c 5\nabc", "deb1 a b c d e\n", "deb1 a b c -1\n",
		"deb1 a - - 3\nA: 1\n", "deb1 a - - 0\nA: 1", "deb1 a - - 5\nA: 1\n\nB: 2\n", "deb1 a - - 0\n cont\n",
		"deb3 a - - 0 0\n", "deb2 a - - 0 9\nA: 1\n", "deb2 a - - 0 0\n0 usr/bin/x", "deb2 a - - 0 0\n0 b\n0 a\n",
		"deb2 a - - 0 0\n0 a\n0 a\n", "deb2 a - - 0 0\n0 ab\n5 c\n", "deb2 a - - 0 0\n0 ab\n1 \n", "deb2 a - - 0 0\nx a\n", "deb2 a - - 0 0\n0a\n"} {
		var m Meta
		if err := m.UnmarshalBinary([]byte(bad)); err == nil {
			t.Errorf("UnmarshalBinary(%q) succeeded", bad)
		}
	}
	if _, err := (&Meta{Source: "a b"}).MarshalBinary(); err == nil {
		t.Error("MarshalBinary accepted a source with a space")
	}
	if _, err := (&Meta{Files: []string{"a\nb"}}).MarshalBinary(); err == nil {
		t.Error("MarshalBinary accepted a path with a newline")
	}
	// Files are written sorted and without duplicates.
	b, err := (&Meta{Files: []string{"usr/bin/b", "usr/bin/a", "usr/bin/b"}}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if want := "deb2 - - - 0 0\n0 usr/bin/a\n8 b\n"; string(b) != want {
		t.Errorf("encoded %q, want %q", b, want)
	}
}
