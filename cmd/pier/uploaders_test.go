package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// TestUploaderRules: key files are read (armored and binary), narrowed to
// the fingerprints given, and every pattern of a rule becomes an api rule
// in order; a fingerprint that no key file holds, a file without keys and
// a rule without targets are configuration errors.
func TestUploaderRules(t *testing.T) {
	dir := t.TempDir()
	var es []*openpgp.Entity
	for i, name := range []string{"a", "b"} {
		e, err := openpgp.NewEntity(name, "", name+"@example.org", nil)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
		var b bytes.Buffer
		if i == 0 {
			w, _ := armor.Encode(&b, openpgp.PublicKeyType, nil)
			e.Serialize(w)
			w.Close()
		} else {
			e.Serialize(&b)
		}
		os.WriteFile(filepath.Join(dir, name+".key"), b.Bytes(), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "empty.key"), nil, 0o644)
	fpr := func(e *openpgp.Entity) string { return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint) }
	both := []string{filepath.Join(dir, "a.key"), filepath.Join(dir, "b.key")}
	rules, err := uploaderRules([]UploaderConfig{{Targets: []string{"5.8/*/*", "5.7/*/*"}, KeyFiles: both, Fingerprints: []string{fpr(es[1])}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].Targets != "5.8/*/*" || rules[1].Targets != "5.7/*/*" {
		t.Fatalf("rules %+v", rules)
	}
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(rules[0].Keys))
	if err != nil || len(ring) != 1 || fpr(ring[0]) != fpr(es[1]) {
		t.Fatalf("keys of the rule: %v, %d keys", err, len(ring))
	}
	for name, c := range map[string]struct {
		u    UploaderConfig
		want string
	}{
		"unknown fingerprint": {UploaderConfig{Targets: []string{"*/*/*"}, KeyFiles: both[:1], Fingerprints: []string{fpr(es[1])}}, "in none of the key files"},
		"no keys":             {UploaderConfig{Targets: []string{"*/*/*"}, KeyFiles: []string{filepath.Join(dir, "empty.key")}}, "no public key"},
	} {
		if _, err := uploaderRules([]UploaderConfig{c.u}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	if err := validateUploaders([]UploaderConfig{{KeyFiles: both}}); err == nil {
		t.Error("a rule without targets is valid")
	}
	if err := validateUploaders([]UploaderConfig{{Targets: []string{"5.8/*"}, KeyFiles: both}}); err == nil {
		t.Error("a two-part pattern is valid")
	}
}
