package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/repo"
)

// UploaderConfig is one rule of uploaders: the .changes uploaded to a
// target matching one of Targets must be clear-signed by one of the keys
// in KeyFiles (narrowed to Fingerprints when set); the first matching rule
// wins, and targets no rule matches take .changes without checking a
// signature.
type UploaderConfig struct {
	// Targets are stream/distro/release glob patterns.
	Targets []string `yaml:"targets"`
	// KeyFiles are OpenPGP public key files (armored or binary).
	KeyFiles []string `yaml:"key_files"`
	// Fingerprints, when set, allow only these keys of KeyFiles (hex,
	// spaces ignored).
	Fingerprints []string `yaml:"fingerprints"`
}

// validateUploaders checks the shape of the uploaders rules (the key files
// are read by uploaderRules).
func validateUploaders(us []UploaderConfig) error {
	for i, u := range us {
		if len(u.Targets) == 0 || len(u.KeyFiles) == 0 {
			return fmt.Errorf("uploaders[%d]: targets and key_files are required", i)
		}
		for _, p := range u.Targets {
			if err := repo.ValidatePattern(p); err != nil {
				return fmt.Errorf("uploaders[%d]: %w", i, err)
			}
		}
	}
	return nil
}

// uploaderRules reads the key files of the uploaders rules and returns
// them as the api's rules, in order.
func uploaderRules(us []UploaderConfig) ([]api.Uploaders, error) {
	var out []api.Uploaders
	for i, u := range us {
		keys, err := uploaderKeys(u)
		if err != nil {
			return nil, fmt.Errorf("uploaders[%d]: %w", i, err)
		}
		for _, p := range u.Targets {
			out = append(out, api.Uploaders{Targets: p, Keys: keys})
		}
	}
	return out, nil
}

// uploaderKeys reads u's key files and returns the allowed keys armored.
func uploaderKeys(u UploaderConfig) ([]byte, error) {
	var ring openpgp.EntityList
	for _, f := range u.KeyFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read key file: %w", err)
		}
		var el openpgp.EntityList
		if bytes.Contains(b, []byte("-----BEGIN PGP")) {
			el, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
		} else {
			el, err = openpgp.ReadKeyRing(bytes.NewReader(b))
		}
		if err != nil {
			return nil, fmt.Errorf("key file %s: %w", f, err)
		}
		ring = append(ring, el...)
	}
	if len(u.Fingerprints) > 0 {
		want := map[string]bool{}
		for _, fp := range u.Fingerprints {
			want[strings.ToUpper(strings.ReplaceAll(fp, " ", ""))] = true
		}
		var kept openpgp.EntityList
		for _, e := range ring {
			fp := fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
			if want[fp] {
				kept = append(kept, e)
				delete(want, fp)
			}
		}
		for fp := range want {
			return nil, fmt.Errorf("fingerprint %s is in none of the key files", fp)
		}
		ring = kept
	}
	if len(ring) == 0 {
		return nil, fmt.Errorf("key_files hold no public key")
	}
	var b bytes.Buffer
	for _, e := range ring {
		w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
		if err != nil {
			return nil, err
		}
		if err := e.Serialize(w); err != nil {
			return nil, fmt.Errorf("encode uploader key: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}
