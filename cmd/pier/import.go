package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

// importCmd adds package files from local disk to a target, then
// publishes it once.
func (c *cli) importCmd() *cobra.Command {
	var component string
	var workers int
	var link bool
	var t repo.Target
	return c.command(dataCmd{
		use:   "import TARGET FILE_OR_DIR...",
		short: "add package files from local disk to a target, then publish it",
		long: `Add package files from local disk to a target, then publish it once. Safe while pier serve runs on
the same data directory.

Directories are walked, following symbolic links (to files and to directories; a directory reached
twice is walked once), for files named *.deb, *.rpm and *.apk: those of the target's format are
imported, those of another format are skipped and counted in one line. Files named on the command
line are imported whatever their name.

Files are taken in path order (byte order of the paths as given and walked). When two files of one
import are the same package (name, version, architecture) with different bytes, the first in path
order is imported and the others are refused, each named with the file that was imported; a
package already in the target with other bytes refuses the file (as an upload would). Any refusal
makes the exit status 1, after the other files are imported and published.`,
		args: args(2, -1, "TARGET FILE_OR_DIR..."),
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&component, "component", "main", "component (deb) or repository (apk)")
			fs.IntVar(&workers, "workers", 8, "files ingested at once (ingest waits on fsync more than on CPU)")
			fs.BoolVar(&link, "link", false, "hard-link the files into a local blob store on the same filesystem instead of copying them; "+
				"they become read-only and must never be modified in place afterwards")
		},
		check: func(cmd *cobra.Command, as []string) (err error) { t, err = parseTarget(cmd, as[0]); return err },
		run: func(ctx context.Context, a *app, _ *cobra.Command, as []string) error {
			spec, err := a.svc.Spec(t.Distro)
			if err != nil {
				return err
			}
			found, err := collect(as[1:], "."+spec.Format.Name())
			if err != nil {
				return err
			}
			if err := mayCreate(ctx, a, t); err != nil {
				return err
			}
			im := &importer{c: c, a: a, t: t, spec: spec, component: component, link: link, workers: max(1, workers)}
			return im.run(ctx, found)
		},
	})
}

// importer is one run of pier import.
type importer struct {
	c         *cli
	a         *app
	t         repo.Target
	spec      *repo.FormatSpec
	component string
	link      bool
	workers   int

	mu                   sync.Mutex
	added, same, failed  int
	bar                  *progressbar.ProgressBar
	refused              map[string]bool // files refused while staging
	commitConflicts      int             // conflicts found by a commit (two files of this import)
	commitConflictErrors []error
}

// commitEvery is how many staged packages one sync and catalog transaction
// record (and the last ones at the end).
const commitEvery = 1000

func (im *importer) run(ctx context.Context, found collected) error {
	c, a, t := im.c, im.a, im.t
	start := time.Now()
	im.refused = map[string]bool{}
	im.failed = len(found.broken)
	for _, b := range found.broken {
		fmt.Fprintf(c.stderr, "%s: %v\n", b.path, b.err)
	}
	if found.summary() != "" {
		fmt.Fprintf(c.stdout, "%s: %s takes %s files\n", found.summary(), t, found.want)
	}
	if len(found.files) == 0 {
		if len(found.broken) > 0 {
			return errSilent
		}
		return fmt.Errorf("no %s files found", found.want)
	}
	if f, ok := c.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		im.bar = progressbar.NewOptions(len(found.files), progressbar.OptionSetWriter(c.stderr),
			progressbar.OptionSetDescription("importing"), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	}
	// pier serve's reconciler leaves the target's publish to this import
	// while it runs (a crash releases the lock and the server publishes).
	release, err := a.svc.HoldImport(ctx, t)
	if err != nil {
		return err
	}
	defer release()
	if err := im.ingest(ctx, found.files); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if im.commitConflicts > 0 {
		if err := im.resolveConflicts(ctx, found.files); err != nil {
			return fmt.Errorf("sort out conflicting files: %w", err)
		}
	}
	if im.failed > 0 {
		// The refusals changed nothing: recorded on their own.
		settleCLI(ctx, a, cliEvent(audit.Upload, t, map[string]any{"via": "pier import", "failed": im.failed,
			"unchanged": im.same}))
	}
	summary := fmt.Sprintf("imported %d new, %d unchanged, %d failed into %s", im.added, im.same, im.failed, t)
	if im.added+im.same > 0 {
		gen, err := a.svc.Publish(ctx, t)
		if err != nil {
			return fmt.Errorf("%s; publish failed: %w", summary, err)
		}
		summary += fmt.Sprintf("; published generation %d (%d packages)", gen.Seq, gen.Packages)
	}
	fmt.Fprintf(c.stdout, "%s in %.1fs\n", summary, time.Since(start).Seconds())
	if im.failed > 0 {
		return errSilent
	}
	return nil
}

// report counts one file's outcome (nil res and err: staged, counted at
// commit); a refusal is printed with the file's path.
func (im *importer) report(path string, res *repo.IngestResult, err error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	switch {
	case err != nil:
		im.failed++
		if path != "" {
			im.refused[path] = true
		}
		if im.bar != nil {
			im.bar.Clear()
		}
		fmt.Fprintf(im.c.stderr, "%s: %v\n", path, err)
	case res == nil:
	case res.Created:
		im.added++
	default:
		im.same++
	}
}

// ingest stages the files in a batch, several at once, committing every
// commitEvery staged packages and at the end.
func (im *importer) ingest(ctx context.Context, files []string) error {
	a, t := im.a, im.t
	batch := a.svc.NewBatch(t)
	defer batch.Close()
	commit := func() error {
		// Each commit is written with its audit event (the packages it adds).
		ev := cliEvent(audit.Upload, t, map[string]any{"via": "pier import"})
		res, errs, err := batch.Commit(audit.WithEvent(ctx, ev))
		if err != nil {
			return err
		}
		for i := range res {
			if errs[i] != nil && isConflict(errs[i]) {
				// Two files of this import are one package: sorted out
				// once every file is in (resolveConflicts).
				im.mu.Lock()
				im.commitConflicts++
				im.commitConflictErrors = append(im.commitConflictErrors, errs[i])
				im.mu.Unlock()
				continue
			}
			im.report(res2name(res[i]), res[i], errs[i])
		}
		return nil
	}
	var commitErr error
	var commitOnce sync.Once
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range im.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for path := range jobs {
				res, err := importFile(ctx, batch, path, im.component, im.link)
				im.report(path, res, err)
				if im.bar != nil {
					im.bar.Add(1)
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
	if im.bar != nil {
		im.bar.Finish()
	}
	if commitErr == nil {
		commitErr = commit()
	}
	if commitErr != nil {
		return fmt.Errorf("record imported packages: %w", commitErr)
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

// publishCmd publishes a target now.
func (c *cli) publishCmd() *cobra.Command {
	var t repo.Target
	return c.command(dataCmd{
		use:   "publish TARGET",
		short: "publish a target now",
		args:  args(1, 1, "TARGET (stream/distro/release)"),
		check: func(cmd *cobra.Command, as []string) (err error) { t, err = parseTarget(cmd, as[0]); return err },
		run: func(ctx context.Context, a *app, _ *cobra.Command, _ []string) error {
			if err := mayCreate(ctx, a, t); err != nil {
				return err
			}
			gen, err := a.svc.Publish(ctx, t)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "published %s generation %d (%d packages, %d files)\n", t, gen.Seq, gen.Packages, gen.Files)
			return nil
		},
	})
}

// getenv returns the environment variable k, or def when it is empty.
func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
