package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/pierhq/pier/repo/catalog/postgres"
)

// Shared keys. On a PostgreSQL catalog the signing keys live in the
// cluster (table cluster_keys): the first node that starts without any
// generates the OpenPGP and apk keys as a single node does and stores its
// key directory there; every node, at start, writes the cluster's keys
// into its own key directory (a copy, 0600) and loads them from there. So
// all nodes sign with the same keys and no one copies files by hand. Keys
// configured as files (signing.key_file, key_files) are read from those
// files as always and are not stored in the cluster: configured files win.
// With PIER_KEY_PASSPHRASE set, every key file is stored encrypted with it
// (OpenPGP symmetric encryption, AES-256, iterated and salted S2K); a node
// then needs the same passphrase to start. `pier keys generate` and
// `pier keys retire` store the changed directory back, in one transaction;
// the other nodes take it at their next start or reload.

// keyPassphraseEnv names the environment variable with the passphrase
// that encrypts the keys stored in the cluster.
const keyPassphraseEnv = "PIER_KEY_PASSPHRASE"

// keysLock is the lock held while a node reads or stores the cluster's
// keys: two nodes starting at once on an empty cluster generate one set.
const keysLock = "cluster-keys"

// shareKeys brings the cluster's keys into this node's key directory; when
// the cluster has none and create is set (pier serve, pier init) it makes
// this node's keys (generating what is missing) the cluster's; generated
// reports that it made the OpenPGP key. A SQLite catalog has nothing to
// share.
func (o *openedCatalog) shareKeys(ctx context.Context, cfg *Config, create bool, log *slog.Logger) (generated bool, err error) {
	if o.pg == nil {
		return false, nil
	}
	release, err := o.locker.Lock(ctx, keysLock, true)
	if err != nil {
		return false, err
	}
	defer release()
	pass := os.Getenv(keyPassphraseEnv)
	files, err := o.pg.KeyFiles(ctx)
	if err != nil {
		return false, err
	}
	if len(files) > 0 {
		return false, writeKeyDir(cfg, files, pass)
	}
	if !create {
		return false, nil // haveKeys says what is missing
	}
	ks, err := loadKeySet(cfg, true)
	if err != nil {
		return false, err
	}
	if pass == "" {
		log.Warn("storing the signing keys in PostgreSQL unencrypted: set " + keyPassphraseEnv + " on every node to encrypt them")
	}
	if err := storeKeyDir(ctx, cfg, o.pg, pass); err != nil {
		return false, err
	}
	log.Info("stored this node's signing keys in the cluster catalog: every node signs with them")
	return ks.created, nil
}

// clusterKeyFile reports whether rel, a path in the key directory, is a
// key file the cluster shares: private and public keys, retired keys. The
// record of the ring that signed the roots (signed-with) stays per node.
func clusterKeyFile(rel string) bool {
	dir, name := filepath.Split(rel)
	if dir != "" && dir != "retired/" {
		return false
	}
	if strings.HasPrefix(name, ".") {
		return false
	}
	if dir == "retired/" {
		return strings.HasSuffix(name, ".asc")
	}
	return strings.HasSuffix(name, ".asc") || strings.HasSuffix(name, ".rsa") || strings.HasSuffix(name, ".rsa.pub")
}

// localKeyFiles lists the key directory's shared files (paths relative
// to it).
func localKeyFiles(dir string) ([]string, error) {
	var out []string
	for _, pattern := range []string{"*", "retired/*"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, err
		}
		for _, p := range m {
			rel, _ := filepath.Rel(dir, p)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && clusterKeyFile(filepath.ToSlash(rel)) {
				out = append(out, filepath.ToSlash(rel))
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// storeKeyDir stores the key directory's shared files in the cluster,
// replacing what was there.
func storeKeyDir(ctx context.Context, cfg *Config, db *postgres.DB, pass string) error {
	dir := keyDir(cfg)
	names, err := localKeyFiles(dir)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	var files []postgres.KeyFile
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			return fmt.Errorf("read key: %w", err)
		}
		f := postgres.KeyFile{Name: n, Data: data, Created: time.Now()}
		if pass != "" {
			if f.Data, err = encryptKey(data, pass); err != nil {
				return fmt.Errorf("encrypt key %s: %w", n, err)
			}
			f.Encrypted = true
		}
		files = append(files, f)
	}
	return db.SetKeyFiles(ctx, files)
}

// writeKeyDir makes the key directory hold exactly the cluster's files
// (other shared-kind files are removed: a key retired on another node
// stops signing here too).
func writeKeyDir(cfg *Config, files []postgres.KeyFile, pass string) error {
	dir := keyDir(cfg)
	want := map[string]bool{}
	for _, f := range files {
		if !clusterKeyFile(f.Name) {
			return fmt.Errorf("cluster key %q: not a key file name", f.Name)
		}
		data := f.Data
		if f.Encrypted {
			if pass == "" {
				return fmt.Errorf("the cluster's signing keys are encrypted: set %s to their passphrase", keyPassphraseEnv)
			}
			var err error
			if data, err = decryptKey(f.Data, pass); err != nil {
				return fmt.Errorf("decrypt cluster key %s (is %s right?): %w", f.Name, keyPassphraseEnv, err)
			}
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("write key: %w", err)
		}
		mode := os.FileMode(0o600)
		if strings.HasSuffix(f.Name, ".pub") {
			mode = 0o644
		}
		if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, data) {
			tmp := path + ".tmp"
			if err := os.WriteFile(tmp, data, mode); err != nil {
				return fmt.Errorf("write key: %w", err)
			}
			if err := os.Rename(tmp, path); err != nil {
				return fmt.Errorf("write key: %w", err)
			}
		}
		want[f.Name] = true
	}
	have, err := localKeyFiles(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("list keys: %w", err)
	}
	for _, n := range have {
		if !want[n] {
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(n))); err != nil {
				return fmt.Errorf("remove key the cluster no longer has: %w", err)
			}
		}
	}
	return nil
}

// encryptKey encrypts data with pass (OpenPGP symmetric encryption).
func encryptKey(data []byte, pass string) ([]byte, error) {
	var buf bytes.Buffer
	w, err := openpgp.SymmetricallyEncrypt(&buf, []byte(pass), nil, &packet.Config{DefaultCipher: packet.CipherAES256})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decryptKey reverses encryptKey; a wrong passphrase is an error.
func decryptKey(data []byte, pass string) ([]byte, error) {
	tried := false
	md, err := openpgp.ReadMessage(bytes.NewReader(data), nil, func([]openpgp.Key, bool) ([]byte, error) {
		if tried {
			return nil, errors.New("wrong passphrase")
		}
		tried = true
		return []byte(pass), nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(md.UnverifiedBody)
}

// withClusterKeys runs fn (a pier keys command) on the cluster's keys when
// the catalog is PostgreSQL: the key directory is brought up to date
// first, and with store the directory fn changed is stored back, all
// under the cluster's key lock. On SQLite it just runs fn.
func withClusterKeys(ctx context.Context, cfg *Config, store bool, log *slog.Logger, fn func() error) error {
	if cfg.Catalog.kind() != "postgres" {
		return fn()
	}
	oc, err := openCatalog(ctx, cfg, time.Now, log)
	if err != nil {
		return err
	}
	defer oc.Close()
	release, err := oc.locker.Lock(ctx, keysLock, true)
	if err != nil {
		return err
	}
	defer release()
	pass := os.Getenv(keyPassphraseEnv)
	files, err := oc.pg.KeyFiles(ctx)
	if err != nil {
		return err
	}
	if len(files) > 0 {
		if err := writeKeyDir(cfg, files, pass); err != nil {
			return err
		}
	}
	if err := fn(); err != nil {
		return err
	}
	if !store {
		return nil
	}
	return storeKeyDir(ctx, cfg, oc.pg, pass)
}
