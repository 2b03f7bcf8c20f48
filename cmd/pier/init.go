package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// initCmd creates a data directory the way pier serve does on its first
// start, without serving: for provisioning (the packages' postinst, an
// Ansible role) and for commands run before the first start.
func (c *cli) initCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init",
		Short: "create the data directory: catalog, signing keys, admin token (what pier serve does on first start)",
		Long: `Create the data directory the config names, as pier serve does on its first start: the catalog, the
OpenPGP signing key and the apk RSA key (unless configured), and the admin token (unless
PIER_ADMIN_TOKEN or auth.admin_token_file gives one). On an existing data directory it creates
nothing and says so (exit 0).`,
		Args: args(0, 0, "no arguments"),
	}
	c.dataFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, w, err := c.load(cmd)
		if err != nil {
			return err
		}
		existed := requireDataDir(cfg, w) == nil
		a, err := open(cmd.Context(), cfg, newLogger(c.stderr, "warn"), true)
		if err != nil {
			return err
		}
		defer a.Close()
		_, tokenPath, tokenCreated, err := adminToken(cfg)
		if err != nil {
			return err
		}
		if existed {
			fmt.Fprintf(c.stdout, "%s is a Pier data directory already: nothing created (%s)\n", cfg.DataDir, w)
		} else {
			fmt.Fprintf(c.stdout, "created the data directory %s (%s)\n", cfg.DataDir, w)
		}
		ks := a.keys.set()
		verb := "using"
		if ks.created {
			verb = "generated"
		}
		fmt.Fprintf(c.stdout, "signing key (%s): %s\n", verb, ks.pgp.Fingerprint())
		for _, fpr := range ks.pgp.Fingerprints()[1:] {
			fmt.Fprintf(c.stdout, "signing key (also signs): %s\n", fpr)
		}
		fmt.Fprintf(c.stdout, "apk signing key: %s\n", ks.apk.KeyName())
		switch {
		case tokenPath == "":
			fmt.Fprintln(c.stdout, "admin token: from PIER_ADMIN_TOKEN")
		case tokenCreated:
			fmt.Fprintf(c.stdout, "admin token: generated in %s (mode 0600)\n", tokenPath)
		default:
			fmt.Fprintf(c.stdout, "admin token: in %s\n", tokenPath)
		}
		return nil
	}
	return cmd
}
