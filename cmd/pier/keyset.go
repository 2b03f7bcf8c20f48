package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/signing"
)

// keySet is the signing keys in force: the OpenPGP ring's signer (every
// key signs every root; the first is the primary) and the apk RSA key. A
// reload replaces the whole set at once.
type keySet struct {
	pgp *signing.OpenPGP
	apk *signing.RSAKey
	// created reports that loading generated the OpenPGP key.
	created bool
}

// signerRef is the repo.Signer the service signs with: it signs with the
// key set in force at the moment, so a reload takes effect at the next
// publish.
type signerRef struct{ cur atomic.Pointer[keySet] }

var _ repo.Signer = (*signerRef)(nil)

// ClearSign implements repo.Signer.
func (r *signerRef) ClearSign(msg []byte) ([]byte, error) { return r.cur.Load().pgp.ClearSign(msg) }

// DetachSign implements repo.Signer.
func (r *signerRef) DetachSign(msg []byte) ([]byte, error) { return r.cur.Load().pgp.DetachSign(msg) }

// PublicKey implements repo.Signer.
func (r *signerRef) PublicKey() []byte { return r.cur.Load().pgp.PublicKey() }

// set returns the key set in force.
func (r *signerRef) set() *keySet { return r.cur.Load() }

// loadKeySet loads the key ring and the apk key cfg names. With create,
// a missing OpenPGP key or apk key is generated in <data>/keys (pier serve,
// pier init).
func loadKeySet(cfg *Config, create bool) (*keySet, error) {
	ks := &keySet{}
	var err error
	if create {
		if ks.pgp, ks.created, err = loadSigner(cfg); err != nil {
			return nil, err
		}
	} else {
		r, err := loadRing(cfg)
		if err != nil {
			return nil, err
		}
		if len(r.Keys) == 0 {
			return nil, fmt.Errorf("no OpenPGP signing key in %s and none configured: pier serve and pier init generate one", keyDir(cfg))
		}
		if ks.pgp, err = r.Signer(signing.Options{}); err != nil {
			return nil, fmt.Errorf("signing keys: %w", err)
		}
	}
	if ks.apk, _, err = signing.LoadOrCreateRSA(keyDir(cfg), cfg.Signing.APKKeyName, 0); err != nil {
		return nil, fmt.Errorf("apk signing key: %w", err)
	}
	return ks, nil
}

// haveKeys checks that the data directory holds the apk key that
// loadKeySet would otherwise generate: only pier serve and pier init make
// keys.
func haveKeys(cfg *Config) error {
	dir := keyDir(cfg)
	pattern := filepath.Join(dir, "pier-*.rsa")
	if n := cfg.Signing.APKKeyName; n != "" {
		pattern = filepath.Join(dir, strings.TrimSuffix(strings.TrimSuffix(n, ".pub"), ".rsa")+".rsa")
	}
	m, err := filepath.Glob(pattern)
	if err != nil {
		return fmt.Errorf("apk signing key: %w", err)
	}
	if len(m) == 0 {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("the data directory %s has no keys directory: pier serve and pier init create the keys", cfg.DataDir)
		}
		return fmt.Errorf("no apk signing key %s: pier serve and pier init create it", pattern)
	}
	return nil
}
