// Command gen builds the parts of Pier's conformance corpus (testdata/)
// that no installed tool makes, and derives the broken packages and the
// manifest from the packages the real tools made. testdata/make-corpus.sh
// runs it; see testdata/README.md.
//
//	go run ./testdata/gen [-dir testdata] packages
//	    nfpm deb/rpm/apk packages, apks in the abuild and melange layouts,
//	    and the hand-made debs (hostile names, bombs)
//	go run ./testdata/gen strip-payload-digest [-keep-digest] IN OUT
//	    the old rpm layout: IN without RPMTAG_PAYLOADDIGEST and
//	    RPMTAG_PAYLOADDIGESTALGO (only the algorithm with -keep-digest),
//	    with the signature header's digests recomputed
//	go run ./testdata/gen [-dir testdata] derive
//	    bad/: truncations, flipped bytes, swapped payloads; then MANIFEST.tsv
//
// Go ignores directories named testdata for ./... patterns, so this
// program is built only when it is named.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// epoch is SOURCE_DATE_EPOCH of the corpus (2025-01-02T03:04:05Z): every
// time stamp in every generated file.
var epoch = time.Unix(1735787045, 0).UTC()

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	dir := fs.String("dir", "testdata", "the corpus directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: gen [-dir DIR] packages|derive|strip-payload-digest [-keep-digest] IN OUT")
	}
	switch cmd := fs.Arg(0); cmd {
	case "packages":
		return packages(*dir)
	case "derive":
		rows, err := derive(*dir)
		if err != nil {
			return err
		}
		return writeManifest(filepath.Join(*dir, "MANIFEST.tsv"), rows)
	case "strip-payload-digest":
		sf := flag.NewFlagSet("strip-payload-digest", flag.ContinueOnError)
		keep := sf.Bool("keep-digest", false, "remove only RPMTAG_PAYLOADDIGESTALGO")
		if err := sf.Parse(fs.Args()[1:]); err != nil {
			return err
		}
		if sf.NArg() != 2 {
			return errors.New("usage: gen strip-payload-digest [-keep-digest] IN OUT")
		}
		return stripPayloadDigest(sf.Arg(0), sf.Arg(1), *keep)
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// writeFile writes data to path, creating its directory.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
