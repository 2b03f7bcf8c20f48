package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

// packageExts are the file name endings pier import picks up when it walks
// a directory. Files named explicitly are taken whatever their name.
var packageExts = []string{".deb", ".rpm", ".apk"}

func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("pier import", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var cf commonFlags
	cf.register(fset)
	component := fset.String("component", "main", "component (deb) or repository (apk)")
	workers := fset.Int("workers", 8, "files ingested at once (ingest waits on fsync more than on CPU)")
	link := fset.Bool("link", false, "hard-link the files into a local blob store on the same filesystem instead of copying them; "+
		"they become read-only and must never be modified in place afterwards")
	if err := fset.Parse(args); err != nil {
		return errSilent
	}
	if fset.NArg() < 2 {
		return fmt.Errorf("usage: pier import STREAM/DISTRO/RELEASE FILE_OR_DIR...")
	}
	t, err := repo.ParseTarget(fset.Arg(0))
	if err != nil {
		return err
	}
	files, err := collect(fset.Args()[1:])
	if err != nil {
		return err
	}
	a, err := cf.openApp(ctx, newLogger(io.Discard, "error"))
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.svc.Spec(t.Distro); err != nil {
		return err
	}

	start := time.Now()
	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions(len(files), progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("importing"), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	}
	// A batch moves blobs into place without a sync each; every commitEvery
	// staged packages (and at the end) one sync and one catalog transaction
	// record them.
	const commitEvery = 1000
	// pier serve's reconciler leaves the target's publish to this import
	// while it runs (a crash releases the lock and the server publishes).
	release, err := a.svc.HoldImport(ctx, t)
	if err != nil {
		return err
	}
	defer release()
	batch := a.svc.NewBatch(t)
	defer batch.Close()
	var mu sync.Mutex
	var added, same, failed int
	report := func(path string, res *repo.IngestResult, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			failed++
			if bar != nil {
				bar.Clear()
			}
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
		case res == nil:
			return // staged: counted at commit
		case res.Created:
			added++
		default:
			same++
		}
	}
	commit := func() error {
		// Each commit is written with its audit event (the packages it adds).
		ev := cliEvent(audit.Upload, t, map[string]any{"via": "pier import"})
		res, errs, err := batch.Commit(audit.WithEvent(ctx, ev))
		if err != nil {
			return err
		}
		for i := range res {
			report(res2name(res[i]), res[i], errs[i])
		}
		return nil
	}
	var commitErr error
	var commitOnce sync.Once
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range max(1, *workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for path := range jobs {
				res, err := importFile(ctx, batch, path, *component, *link)
				report(path, res, err)
				if bar != nil {
					bar.Add(1)
				}
				if batch.Pending() >= commitEvery {
					if err := commit(); err != nil {
						commitOnce.Do(func() { commitErr = err })
					}
				}
			}
		}()
	}
	for _, f := range files {
		if ctx.Err() != nil || commitErr != nil {
			break
		}
		jobs <- f
	}
	close(jobs)
	wg.Wait()
	if bar != nil {
		bar.Finish()
	}
	if commitErr == nil {
		commitErr = commit()
	}
	if commitErr != nil {
		return fmt.Errorf("record imported packages: %w", commitErr)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if failed > 0 {
		// The refusals changed nothing: recorded on their own.
		settleCLI(ctx, a, cliEvent(audit.Upload, t, map[string]any{"via": "pier import", "failed": failed,
			"unchanged": same}))
	}
	summary := fmt.Sprintf("imported %d new, %d unchanged, %d failed into %s", added, same, failed, t)
	if added+same > 0 {
		gen, err := a.svc.Publish(ctx, t)
		if err != nil {
			return fmt.Errorf("%s; publish failed: %w", summary, err)
		}
		summary += fmt.Sprintf("; published generation %d (%d packages)", gen.Seq, gen.Packages)
	}
	fmt.Fprintf(stdout, "%s in %.1fs\n", summary, time.Since(start).Seconds())
	if failed > 0 {
		return errSilent
	}
	return nil
}

func importFile(ctx context.Context, b *repo.Batch, path, component string, link bool) (*repo.IngestResult, error) {
	if link {
		return b.AddLinked(ctx, path, repo.IngestOptions{Component: component})
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return b.Add(ctx, f, repo.IngestOptions{Component: component})
}

// res2name names a package for messages.
func res2name(r *repo.IngestResult) string {
	if r == nil || r.Package == nil {
		return "package"
	}
	return r.Package.Name + " " + r.Package.Version + " (" + r.Package.Arch + ")"
}

// collect expands directories into the package files under them.
func collect(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && hasPackageExt(p) {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", a, err)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no package files found")
	}
	return out, nil
}

func hasPackageExt(p string) bool {
	for _, e := range packageExts {
		if strings.HasSuffix(p, e) {
			return true
		}
	}
	return false
}

func cmdPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("pier publish", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var cf commonFlags
	cf.register(fset)
	if err := fset.Parse(args); err != nil {
		return errSilent
	}
	if fset.NArg() != 1 {
		return fmt.Errorf("usage: pier publish STREAM/DISTRO/RELEASE")
	}
	t, err := repo.ParseTarget(fset.Arg(0))
	if err != nil {
		return err
	}
	a, err := cf.openApp(ctx, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer a.Close()
	gen, err := a.svc.Publish(ctx, t)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "published %s generation %d (%d packages, %d files)\n", t, gen.Seq, gen.Packages, gen.Files)
	return nil
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
