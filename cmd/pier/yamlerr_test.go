package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goTypeRE matches what a Go type name looks like in a message.
var goTypeRE = regexp.MustCompile(`\b(main|time|s3|deb|rpm|apk|repo)\.[A-Z]|\bint64\b|\[\]string|map\[|struct|\bunmarshal\b|!!`)

// TestConfigErrorsInYAMLTerms: a wrong config names the line, the key
// (section.key, list items as [i]) and what the key wants in YAML terms,
// never a Go type; an unknown key gets the nearest known keys.
func TestConfigErrorsInYAMLTerms(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"duration as words", "publish:\n  delay: five minutes\n",
			[]string{"line 2", "publish.delay", "a duration such as 30s", `"five minutes"`}},
		{"duration without unit", "retention:\n  gc_interval: 5\n",
			[]string{"line 2", "retention.gc_interval", "a duration", `the number "5"`}},
		{"whole number", "publish:\n  keep_generations: three\n",
			[]string{"publish.keep_generations", "a whole number", `the string "three"`}},
		{"size", "max_upload_size: lots\n",
			[]string{"line 1", "max_upload_size", "KiB, MiB"}},
		{"list", "auth:\n  private: 5.8/*/*\n",
			[]string{"line 2", "auth.private", "a list, each item a string"}},
		{"mapping", "deb: yes\n",
			[]string{"line 1", "deb", "a mapping of settings"}},
		{"boolean", "rpm:\n  sign_packages: maybe\n",
			[]string{"rpm.sign_packages", "true or false"}},
		{"list item", "mirrors:\n  - name: a\n    type: dir\n    path: /x\n    grace: soon\n",
			[]string{"line 5", "mirrors[0].grace", "a duration"}},
		{"unknown key with suggestion", "listen: x\npublsh:\n  delay: 1s\n",
			[]string{"line 2", "unknown key publsh", `did you mean publish?`}},
		{"unknown nested key", "deb:\n  orgin: X\n",
			[]string{"line 2", "unknown key deb.orgin", "did you mean origin?"}},
		{"unknown key without a near one", "tls:\n  certificate: x\n",
			[]string{"unknown key tls.certificate", "known here: cert_file, key_file, redirect_listen"}},
		{"two errors", "publish:\n  delay: x\n  keep_generations: y\n",
			[]string{"publish.delay", "publish.keep_generations"}},
	} {
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, []byte(c.yaml), 0o644)
		_, err := loadConfig(p)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		msg := err.Error()
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q lacks %q", c.name, msg, w)
			}
		}
		if m := goTypeRE.FindString(msg); m != "" {
			t.Errorf("%s: %q speaks Go (%q)", c.name, msg, m)
		}
		if !strings.Contains(msg, p) {
			t.Errorf("%s: %q does not name the file", c.name, msg)
		}
	}
}
