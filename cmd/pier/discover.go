package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// defaultConfigFile is the config file every command reads when neither
// --config nor PIER_CONFIG names one and it exists (the packages install
// it).
const defaultConfigFile = "/etc/pier/pier.yaml"

// catalogFile is the file that makes a directory a Pier data directory.
const catalogFile = "catalog.db"

// where is the config file and data directory a command acts on, and how
// each was chosen.
type where struct {
	config     string // "" for none
	configFrom string
	data       string
	dataFrom   string
}

// String names both for the line commands print on stderr.
func (w where) String() string {
	cfg := "none (defaults)"
	if w.config != "" {
		cfg = w.config
	}
	if w.configFrom != "" {
		cfg += " (" + w.configFrom + ")"
	}
	return fmt.Sprintf("config %s; data %s (%s)", cfg, w.data, w.dataFrom)
}

// chooseConfig finds the config file the way every command does: --config
// (an empty value: none), else PIER_CONFIG (set but empty: none), else the
// default file when it exists, else none.
func (c *cli) chooseConfig(cmd *cobra.Command) (path, from string, err error) {
	if cmd != nil && cmd.Flags().Changed("config") {
		return c.config, "--config", nil
	}
	if v, ok := c.lookupEnv("PIER_CONFIG"); ok {
		return v, "PIER_CONFIG", nil
	}
	switch _, err := os.Stat(c.defaultConfig); {
	case err == nil:
		return c.defaultConfig, "default location", nil
	case errors.Is(err, fs.ErrNotExist):
		return "", "", nil
	default:
		return "", "", fmt.Errorf("config %s: %w", c.defaultConfig, err)
	}
}

// load reads the config the command acts on and settles its data
// directory: --data, else PIER_DATA, else the config's data_dir, else
// ./pier-data.
func (c *cli) load(cmd *cobra.Command) (*Config, where, error) {
	var w where
	var err error
	if w.config, w.configFrom, err = c.chooseConfig(cmd); err != nil {
		return nil, w, err
	}
	cfg, err := loadConfig(w.config)
	if err != nil {
		return nil, w, err
	}
	switch {
	case cmd != nil && cmd.Flags().Lookup("data") != nil && cmd.Flags().Changed("data"):
		cfg.DataDir, w.dataFrom = c.data, "--data"
	case c.getenv("PIER_DATA") != "":
		cfg.DataDir, w.dataFrom = c.getenv("PIER_DATA"), "PIER_DATA"
	case cfg.explicitDataDir:
		w.dataFrom = "data_dir of the config"
	default:
		w.dataFrom = "default"
	}
	if cfg.DataDir == "" {
		return nil, w, fmt.Errorf("the data directory is empty: give --data DIR")
	}
	w.data = cfg.DataDir
	return cfg, w, nil
}

// requireDataDir checks that cfg's data directory is a Pier data directory
// (pier serve or pier init made it): the commands other than those two
// never create one. With a PostgreSQL catalog the directory holds no
// catalog file (only keys and temporary files).
func requireDataDir(cfg *Config, w where) error {
	dir := cfg.DataDir
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("data directory %s does not exist (%s); only pier serve and pier init create one: "+
			"point --data, PIER_DATA or data_dir at the right directory, or run pier init", dir, w)
	case err != nil:
		return fmt.Errorf("data directory %s: %w", dir, err)
	case !st.IsDir():
		return fmt.Errorf("data directory %s is not a directory (%s)", dir, w)
	}
	if cfg.Catalog.kind() == "postgres" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, catalogFile)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("data directory %s holds no Pier catalog (no %s; %s); only pier serve and pier init create one: "+
			"point --data, PIER_DATA or data_dir at the right directory, or run pier init", dir, catalogFile, w)
	} else if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	return nil
}

// loadExisting loads the config of cmd and checks that its data directory
// exists, naming both on stderr (unless quiet).
func (c *cli) loadExisting(cmd *cobra.Command) (*Config, where, error) {
	cfg, w, err := c.load(cmd)
	if err != nil {
		return nil, w, err
	}
	if err := requireDataDir(cfg, w); err != nil {
		return nil, w, err
	}
	if !c.quiet {
		fmt.Fprintf(c.stderr, "pier: %s\n", w)
	}
	return cfg, w, nil
}
