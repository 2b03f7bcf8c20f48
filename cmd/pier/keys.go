package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/spf13/cobra"

	"github.com/pierhq/pier/signing"
)

// ringStateFile, in the key directory, records the fingerprints of the key
// ring that signed the published roots, one a line, primary first. When
// pier serve starts with another ring it publishes every target again, so
// that the roots carry exactly the current keys' signatures.
const ringStateFile = "signed-with"

// keyDir is the data dir's key directory.
func keyDir(cfg *Config) string { return filepath.Join(cfg.DataDir, "keys") }

// ringOptions names the keys of cfg's ring: signing.key_file, then
// signing.key_files, then every private key in <data>/keys.
func ringOptions(cfg *Config) (signing.RingOptions, error) {
	pass, err := secret("PIER_SIGNING_PASSPHRASE", cfg.Signing.PassphraseFile)
	if err != nil {
		return signing.RingOptions{}, err
	}
	var files []string
	if cfg.Signing.KeyFile != "" {
		files = append(files, cfg.Signing.KeyFile)
	}
	files = append(files, cfg.Signing.KeyFiles...)
	return signing.RingOptions{Dir: keyDir(cfg), Files: files, Passphrase: []byte(pass)}, nil
}

// loadSigner loads the key ring and returns a signer over all its keys; a
// key is generated in <data>/keys when the ring holds none. created
// reports that.
func loadSigner(cfg *Config) (*signing.OpenPGP, bool, error) {
	o, err := ringOptions(cfg)
	if err != nil {
		return nil, false, err
	}
	ring, created, err := signing.LoadOrCreateRing(o, signing.Options{})
	if err != nil {
		return nil, false, fmt.Errorf("signing keys: %w", err)
	}
	s, err := ring.Signer(signing.Options{})
	if err != nil {
		return nil, false, fmt.Errorf("signing keys: %w", err)
	}
	return s, created, nil
}

// loadRing loads cfg's key ring without generating a key.
func loadRing(cfg *Config) (*signing.Ring, error) {
	o, err := ringOptions(cfg)
	if err != nil {
		return nil, err
	}
	r, err := signing.LoadRing(o)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return r, nil
}

// readRingState returns the fingerprints recorded in the state file (nil,
// nil when there is none).
func readRingState(cfg *Config) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(keyDir(cfg), ringStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read signing state: %w", err)
	}
	return strings.Fields(string(data)), nil
}

// writeRingState records fprs as the ring that signed the published roots.
func writeRingState(cfg *Config, fprs []string) error {
	dir := keyDir(cfg)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write signing state: %w", err)
	}
	tmp := filepath.Join(dir, "."+ringStateFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strings.Join(fprs, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("write signing state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ringStateFile)); err != nil {
		return fmt.Errorf("write signing state: %w", err)
	}
	return nil
}

// resignForNewRing runs in pier serve, at start and after a reload that
// changed the keys: when the key ring differs from the one recorded as
// having signed the published roots (keys were generated, retired or
// configured since), it publishes every target again so that every root
// carries one signature per current key, then records the ring. Without a
// record (a data dir from before key rotation) it only records.
func (st *serving) resignForNewRing(ctx context.Context) {
	st.resign.Lock()
	defer st.resign.Unlock()
	a, log := st.a, st.log
	cur := a.keys.set().pgp.Fingerprints()
	old, err := readRingState(a.cfg)
	if err != nil {
		log.Error("signing keys: cannot tell whether the roots need re-signing", "err", err)
		return
	}
	if old != nil && !slices.Equal(old, cur) {
		heads, err := a.svc.Heads(ctx)
		if err != nil {
			log.Error("signing keys changed: list targets to re-sign", "err", err)
			return
		}
		log.Info("signing keys changed: re-signing every target", "keys", strings.Join(cur, ","), "before", strings.Join(old, ","))
		failed := 0
		for _, ti := range heads {
			if ti.Current == nil {
				continue
			}
			if _, err := a.svc.Publish(ctx, ti.Target); err != nil {
				if ctx.Err() != nil {
					return
				}
				failed++
				log.Error("re-sign with the new keys", "target", ti.Target.String(), "err", err)
			}
		}
		if failed > 0 {
			return // the next start or reload tries again
		}
		log.Info("re-signed every target with the current keys", "keys", strings.Join(cur, ","))
	}
	if err := writeRingState(a.cfg, cur); err != nil {
		log.Error("signing keys", "err", err)
	}
}

// keysCmd manages the OpenPGP signing keys on the data directory.
func (c *cli) keysCmd() *cobra.Command {
	// keys runs fn on the config of cmd, whose data directory must exist.
	// On a PostgreSQL catalog fn works on the cluster's keys, and the
	// commands that change keys store them back (withClusterKeys).
	keys := func(fn func(cmd *cobra.Command, cfg *Config, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			cfg, _, err := c.loadExisting(cmd)
			if err != nil {
				return err
			}
			store := cmd.Name() == "generate" || cmd.Name() == "retire"
			return withClusterKeys(cmd.Context(), cfg, store, newLogger(c.stderr, "warn"), func() error { return fn(cmd, cfg, args) })
		}
	}
	list := &cobra.Command{Use: "list", Short: "the signing keys: fingerprint, creation, algorithm, status, where each comes from",
		Args: args(0, 0, "no arguments"),
		RunE: keys(func(_ *cobra.Command, cfg *Config, _ []string) error { return keysList(cfg, c.stdout) })}
	var o signing.Options
	generate := &cobra.Command{Use: "generate", Short: "make a new RSA key in <data>/keys; it signs every root together with the others",
		Args: args(0, 0, "no arguments"),
		RunE: keys(func(_ *cobra.Command, cfg *Config, _ []string) error { return keysGenerate(cfg, o, c.stdout, c.stderr) })}
	generate.Flags().StringVar(&o.Name, "name", signing.DefaultKeyName, "user ID name of the key")
	generate.Flags().StringVar(&o.Email, "email", "", "user ID e-mail of the key")
	generate.Flags().IntVar(&o.Bits, "bits", signing.DefaultRSABits, "RSA key size")
	var binary bool
	export := &cobra.Command{Use: "export [FINGERPRINT]", Short: "armored public keys (all active ones, or the one named) on stdout",
		Args: args(0, 1, "at most one FINGERPRINT"),
		RunE: keys(func(_ *cobra.Command, cfg *Config, as []string) error { return keysExport(cfg, as, binary, c.stdout) })}
	export.Flags().BoolVar(&binary, "binary", false, "write a binary keyring (like /keys/pier.gpg) instead of armor")
	retire := &cobra.Command{Use: "retire FINGERPRINT", Short: "move a key of <data>/keys to <data>/keys/retired: it stops signing",
		Args: args(1, 1, "FINGERPRINT"),
		RunE: keys(func(_ *cobra.Command, cfg *Config, as []string) error {
			return keysRetire(cfg, as[0], c.stdout, c.stderr)
		})}
	for _, sub := range []*cobra.Command{list, generate, export, retire} {
		c.dataFlags(sub)
	}
	return group("keys", "OpenPGP signing keys: list, generate, export, retire (key rotation)", list, generate, export, retire)
}

// keysList prints the active keys, primary first, then the retired ones.
func keysList(cfg *Config, stdout io.Writer) error {
	r, err := loadRing(cfg)
	if err != nil {
		return err
	}
	retired, err := signing.LoadRetired(keyDir(cfg))
	if err != nil {
		return err
	}
	if len(r.Keys) == 0 {
		fmt.Fprintln(stdout, "no signing keys yet: pier serve generates one on first start (or run pier keys generate)")
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if len(r.Keys)+len(retired) > 0 {
		fmt.Fprintln(tw, "FINGERPRINT\tCREATED\tALGORITHM\tSTATUS\tSOURCE")
	}
	for i, k := range append(r.Keys, retired...) {
		status := "active"
		switch {
		case k.Retired:
			status = "retired"
		case i == 0:
			status = "primary"
		}
		source := "data dir: " + k.Path
		if k.Configured {
			source = "config: " + k.Path
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Fingerprint(), k.Created().UTC().Format("2006-01-02 15:04 UTC"),
			k.Algorithm(), status, source)
	}
	return tw.Flush()
}

// keysGenerate adds a new key to <data>/keys and prints its fingerprint on
// stdout (what to do next goes to stderr).
func keysGenerate(cfg *Config, opts signing.Options, stdout, stderr io.Writer) error {
	r, err := loadRing(cfg)
	if err != nil {
		return err
	}
	if err := recordRingBeforeChange(cfg, r); err != nil {
		return err
	}
	k, err := signing.CreateKey(keyDir(cfg), opts)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, k.Fingerprint())
	fmt.Fprintf(stderr, `generated %s key %s in %s
It signs every repository root together with the other %d key(s) once pier serve reloads
(systemctl reload pier) or restarts; pier serve then re-signs every target, no upload needed.
/keys/pier.asc and /keys/pier.gpg then hold every active key: clients that install them trust old and new.
`, k.Algorithm(), k.Fingerprint(), k.Path, len(r.Keys))
	return nil
}

// recordRingBeforeChange writes the state file for the ring r if there is
// none yet, so that pier serve sees the change and re-signs.
func recordRingBeforeChange(cfg *Config, r *signing.Ring) error {
	old, err := readRingState(cfg)
	if err != nil || old != nil || len(r.Keys) == 0 {
		return err
	}
	return writeRingState(cfg, r.Fingerprints())
}

// keysExport writes public keys: every active key, or the one named
// (active or retired).
func keysExport(cfg *Config, args []string, binary bool, stdout io.Writer) error {
	r, err := loadRing(cfg)
	if err != nil {
		return err
	}
	keys := r.Keys
	if len(args) == 1 {
		retired, err := signing.LoadRetired(keyDir(cfg))
		if err != nil {
			return err
		}
		k, err := signing.Find(append(r.Keys, retired...), args[0])
		if err != nil {
			return err
		}
		keys = []signing.RingKey{k}
	}
	if len(keys) == 0 {
		return fmt.Errorf("no signing keys yet: pier serve generates one on first start (or run pier keys generate)")
	}
	es := make([]*openpgp.Entity, len(keys))
	for i, k := range keys {
		es[i] = k.Entity
	}
	data, err := signing.ExportPublic(es, !binary)
	if err != nil {
		return err
	}
	_, err = stdout.Write(data)
	return err
}

// keysRetire moves a data-dir key out of the ring.
func keysRetire(cfg *Config, fpr string, stdout, stderr io.Writer) error {
	r, err := loadRing(cfg)
	if err != nil {
		return err
	}
	k, err := signing.Find(r.Keys, fpr)
	if err != nil {
		return err
	}
	if k.Configured {
		return fmt.Errorf("key %s comes from the config (%s): remove it from signing.key_file/key_files instead", k.Fingerprint(), k.Path)
	}
	if len(r.Keys) < 2 {
		return fmt.Errorf("key %s is the only signing key: generate its successor first (pier keys generate)", k.Fingerprint())
	}
	if err := recordRingBeforeChange(cfg, r); err != nil {
		return err
	}
	dst, err := signing.RetireKey(keyDir(cfg), k.Fingerprint())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "retired %s (moved to %s)\n", k.Fingerprint(), dst)
	fmt.Fprintln(stderr, "Reload pier serve (systemctl reload pier): it re-signs every target without this key;\n"+
		"clients that trust only this key then fail to update.")
	return nil
}
