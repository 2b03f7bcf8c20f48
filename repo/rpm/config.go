package rpm

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Compression names for Config.Compression.
const (
	CompressionGzip = "gzip" // .xml.gz, read by every dnf, yum and zypper
	CompressionZstd = "zstd" // .xml.zst, smaller and faster; not for old clients
)

// Default limits applied by Config.Defaults.
const (
	DefaultMaxHeaderSize = 64 << 20
	DefaultMaxFiles      = 1 << 20
)

// Config configures the rpm format.
type Config struct {
	// Compression of primary, filelists and other: "gzip" (default, the
	// widest client support) or "zstd".
	Compression string `yaml:"compression"`
	// MaxHeaderSize bounds each of an uploaded rpm's two headers (signature
	// and main), index and data together, in bytes. Larger claims are
	// rejected before anything is allocated.
	MaxHeaderSize int64 `yaml:"max_header_size"`
	// MaxFiles bounds the number of files one package may list.
	MaxFiles int `yaml:"max_files"`
	// SignPackages makes Pier sign each uploaded rpm with its OpenPGP key
	// at ingest, the way rpmsign 4.18 --addsign does (a header signature,
	// plus a header+payload signature for packages without a payload
	// digest), and publish the signed bytes. The key must be an RSA, DSA
	// or EdDSA v4 key.
	SignPackages bool `yaml:"sign_packages"`
	// SignTargets limits SignPackages to targets matching these
	// "stream/distro/release" glob patterns (e.g. "5.8/el/*"). Empty means
	// every rpm target.
	SignTargets []string `yaml:"sign_targets"`
	// IndexCacheSize bounds, in bytes, the compressed pieces of repodata a
	// running server keeps so that the next publish of a target compresses
	// only what changed (default 64 MiB, about 16 targets of 10,000
	// packages; -1 keeps none). It never changes what is published.
	IndexCacheSize int64 `yaml:"index_cache_size"`
	// Repos give the targets matching their patterns a repository id and
	// name in .repo files (see RepoName); the first match wins.
	Repos []RepoName `yaml:"repos"`
}

// Defaults fills every zero field of c with its default.
func (c *Config) Defaults() {
	if c.Compression == "" {
		c.Compression = CompressionGzip
	}
	if c.MaxHeaderSize == 0 {
		c.MaxHeaderSize = DefaultMaxHeaderSize
	}
	if c.MaxFiles == 0 {
		c.MaxFiles = DefaultMaxFiles
	}
	if c.IndexCacheSize == 0 {
		c.IndexCacheSize = DefaultIndexCacheSize
	}
}

// Validate reports the first invalid field of c. Call it after Defaults.
func (c *Config) Validate() error {
	switch c.Compression {
	case CompressionGzip, CompressionZstd:
	default:
		return fmt.Errorf("rpm: compression %q: want %q or %q", c.Compression, CompressionGzip, CompressionZstd)
	}
	if c.MaxHeaderSize < 1<<16 || c.MaxHeaderSize > 1<<30 {
		return errors.New("rpm: max_header_size must be between 64 KiB and 1 GiB")
	}
	if c.MaxFiles < 1 {
		return errors.New("rpm: max_files must be positive")
	}
	if c.IndexCacheSize < -1 {
		return errors.New("rpm: index_cache_size must be a byte count, or -1 for no cache")
	}
	for _, p := range c.SignTargets {
		if _, err := path.Match(p, "s/d/r"); err != nil || strings.Count(p, "/") != 2 {
			return fmt.Errorf("rpm: sign_targets %q: want a stream/distro/release glob pattern", p)
		}
	}
	if err := validateRepoNames(c.Repos); err != nil {
		return err
	}
	return nil
}
