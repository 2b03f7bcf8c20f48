package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/repo"
)

// pushOptions are the flags of pier push.
type pushOptions struct {
	server, token, component string
	publish, wait, asJSON    bool
	waitTimeout              time.Duration
	retries                  int
	ciJob, ciCommit          string
}

func (c *cli) pushCmd() *cobra.Command {
	var o pushOptions
	cmd := &cobra.Command{
		Use:   "push TARGET FILE_OR_DIR...",
		Short: "upload package files to a running Pier (--wait: until they are published)",
		Long: `Upload package files to a running Pier, one request per file. Directories are walked for .deb, .rpm
and .apk files (links followed, as pier import does); a path that is not a regular file is refused
before anything is sent. Every output line names its file. A .dsc (Debian source package) or a
.changes goes in one request with every file it lists, taken from its directory, to the target's
sources or changes upload (all or nothing).

A connection error, a 5xx or a 429 is retried with a backoff (1s doubling, at most 30s, with
jitter; a 429's or 503's Retry-After is honoured), up to --retries times: safe, since sending the
same bytes again answers 200 "unchanged". A 4xx other than 429 is final.

--wait returns only once a generation that contains every pushed file is live (it watches the
target's revision and publish state in GET /api/v1/targets), and fails if that publish fails or
--wait-timeout passes. --json prints one JSON document for scripts instead of the lines.
On a terminal, files of 4 MiB or more get a progress bar on stderr.

In GitHub Actions and GitLab CI the job URL and commit are sent for the audit log.`,
		Args: args(2, -1, "TARGET FILE_OR_DIR..."),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.server, "server", "", "Pier URL with its scheme, e.g. https://pier.example.org (env PIER_SERVER)")
	fs.StringVar(&o.token, "token", "", "API token with upload on the target (env PIER_TOKEN)")
	fs.StringVar(&o.component, "component", "", "component (deb) or repository (apk); default main")
	fs.BoolVar(&o.publish, "publish", true, "publish after the upload (false: leave it pending)")
	fs.BoolVar(&o.wait, "wait", false, "exit only once a generation containing every pushed file is live; non-zero if that publish fails")
	fs.DurationVar(&o.waitTimeout, "wait-timeout", 15*time.Minute, "give up waiting after this long")
	fs.IntVar(&o.retries, "retries", 5, "retries of a file after a connection error, a 5xx or a 429")
	fs.BoolVar(&o.asJSON, "json", false, "print one JSON document (files, outcomes, the generation waited for)")
	fs.StringVar(&o.ciJob, "ci-job-url", "", "CI job URL for the audit log (default from GitHub Actions' or GitLab CI's environment)")
	fs.StringVar(&o.ciCommit, "ci-commit", "", "commit for the audit log (default $GITHUB_SHA or $CI_COMMIT_SHA)")
	cmd.RunE = func(cmd *cobra.Command, as []string) error { return c.push(cmd, o, as) }
	return cmd
}

// push runs pier push with options o on the arguments as.
func (c *cli) push(cmd *cobra.Command, o pushOptions, as []string) error {
	if o.server == "" {
		o.server = c.getenv("PIER_SERVER")
	}
	if o.token == "" {
		o.token = c.getenv("PIER_TOKEN")
	}
	envJob, envCommit := ciFromEnv()
	if o.ciJob == "" {
		o.ciJob = envJob
	}
	if o.ciCommit == "" {
		o.ciCommit = envCommit
	}
	if o.server == "" || o.token == "" {
		return usagef(cmd, "pier push needs --server and --token (or PIER_SERVER and PIER_TOKEN)")
	}
	base, err := serverURL(o.server)
	if err != nil {
		return usagef(cmd, "%v", err)
	}
	if o.wait && !o.publish {
		return usagef(cmd, "--wait waits for a publish: it cannot go with --publish=false")
	}
	if o.retries < 0 {
		return usagef(cmd, "--retries must be 0 or more")
	}
	t, err := parseTarget(cmd, as[0])
	if err != nil {
		return err
	}
	found, err := collect(as[1:], "")
	if err != nil {
		return err
	}
	for _, b := range found.broken {
		return fmt.Errorf("%s: %v: nothing was sent", b.path, b.err)
	}
	if len(found.files) == 0 {
		return fmt.Errorf("no package files found in %s", strings.Join(as[1:], " "))
	}
	for _, f := range found.files {
		if st, err := os.Stat(f); err != nil {
			return err
		} else if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file (%s): nothing was sent", f, st.Mode().Type())
		}
	}
	p := &pusher{c: c, o: o, base: base, target: t, client: &http.Client{}, sleep: sleepCtx}
	return p.run(cmd.Context(), found.files)
}

// serverURL checks --server: an http or https URL with a host; a bare
// host name is refused with the fix.
func serverURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		host := strings.TrimPrefix(strings.TrimPrefix(s, "//"), "/")
		return "", fmt.Errorf("--server %q is not an http:// or https:// URL: give the scheme too, e.g. https://%s", s, host)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// pushResult is one file's outcome, as --json prints it.
type pushResult struct {
	File string `json:"file"`
	// Outcome is added, unchanged or failed.
	Outcome  string  `json:"outcome"`
	Status   int     `json:"status,omitempty"`
	Error    string  `json:"error,omitempty"`
	Attempts int     `json:"attempts"`
	Seconds  float64 `json:"seconds"`
	api.UploadResult
}

// pushReport is the JSON document of pier push --json.
type pushReport struct {
	Server string       `json:"server"`
	Target string       `json:"target"`
	Files  []pushResult `json:"files"`
	// Generation is the live generation that holds every pushed file
	// (with --wait).
	Generation *repo.Generation `json:"generation,omitempty"`
	// PublishError is why the publish waited for failed.
	PublishError string `json:"publish_error,omitempty"`
	OK           bool   `json:"ok"`
}

// pusher is one run of pier push.
type pusher struct {
	c      *cli
	o      pushOptions
	base   string
	target repo.Target
	client *http.Client
	// sleep waits d or until ctx ends (a test shortens it).
	sleep func(ctx context.Context, d time.Duration) error
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (p *pusher) run(ctx context.Context, files []string) error {
	c := p.c
	rep := pushReport{Server: p.base, Target: p.target.String(), OK: true}
	failed := 0
	for _, path := range files {
		r := p.pushRetrying(ctx, path)
		rep.Files = append(rep.Files, r)
		if r.Outcome == "failed" {
			failed++
			rep.OK = false
		}
		if !p.o.asJSON {
			if r.Outcome == "failed" {
				fmt.Fprintf(c.stdout, "FAIL %s: %s\n", path, r.Error)
			} else {
				fmt.Fprintf(c.stdout, "%s %s %s %s %s (%s, %.1fs)\n", r.Outcome, r.Name, r.Version, r.Arch, path, r.Path, r.Seconds)
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	if p.o.wait && failed < len(files) && ctx.Err() == nil {
		gen, err := p.waitPublished(ctx)
		rep.Generation = gen
		if err != nil {
			rep.OK = false
			rep.PublishError = err.Error()
		}
		if !p.o.asJSON {
			for _, r := range rep.Files {
				switch {
				case r.Outcome == "failed":
				case err != nil:
					fmt.Fprintf(c.stdout, "FAIL %s: not published: %v\n", r.File, err)
				default:
					fmt.Fprintf(c.stdout, "published %s in %s generation %d\n", r.File, p.target, gen.Seq)
				}
			}
		}
	}
	if p.o.asJSON {
		if err := writeJSON(c.stdout, rep); err != nil {
			return err
		}
	}
	if failed > 0 {
		fmt.Fprintf(c.stderr, "pier: %d of %d uploads failed\n", failed, len(files))
	}
	if !rep.OK {
		return errSilent
	}
	return nil
}

// retryable is a failure worth sending the file again for: the
// connection failed, the server failed (5xx) or was busy (429).
type retryable struct {
	err error
	// after is the server's Retry-After (0: none).
	after time.Duration
}

func (e *retryable) Error() string { return e.err.Error() }
func (e *retryable) Unwrap() error { return e.err }

// Backoff of pier push's retries: 1 s doubling to 30 s, with jitter; a
// Retry-After is honoured up to maxRetryWait.
const (
	firstRetry   = time.Second
	maxBackoff   = 30 * time.Second
	maxRetryWait = 2 * time.Minute
)

// backoffFor is the wait before retry n (1-based).
func backoffFor(n int, after time.Duration) time.Duration {
	if after > 0 {
		return min(after, maxRetryWait)
	}
	d := firstRetry
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return d/2 + rand.N(d/2+1) // jitter: spread the retries of many CI jobs
}

// pushRetrying sends path, again after a retryable failure.
func (p *pusher) pushRetrying(ctx context.Context, path string) pushResult {
	start := time.Now()
	r := pushResult{File: path}
	for attempt := 1; ; attempt++ {
		r.Attempts = attempt
		res, status, err := p.pushFile(ctx, path)
		var re *retryable
		if err == nil || !errors.As(err, &re) || attempt > p.o.retries || ctx.Err() != nil {
			r.Seconds = time.Since(start).Seconds()
			r.Status = status
			if err != nil {
				r.Outcome, r.Error = "failed", err.Error()
				return r
			}
			r.UploadResult = *res
			r.Outcome = "unchanged"
			if res.Created {
				r.Outcome = "added"
			}
			return r
		}
		wait := backoffFor(attempt, re.after)
		fmt.Fprintf(p.c.stderr, "pier: %s: %v; retry %d of %d in %s\n", path, err, attempt, p.o.retries, wait.Round(100*time.Millisecond))
		if p.sleep(ctx, wait) != nil {
			r.Outcome, r.Error, r.Seconds = "failed", ctx.Err().Error(), time.Since(start).Seconds()
			return r
		}
	}
}

// progressMin is the size from which a file gets a progress bar on a
// terminal.
const progressMin = 4 << 20

// pushFile streams one file as the raw request body, with the token and
// the CI job and commit.
func (p *pusher) pushFile(ctx context.Context, path string) (*api.UploadResult, int, error) {
	if set := setEndpoint(path); set != "" {
		return p.pushSet(ctx, path, set)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("not a regular file (%s): not sent", st.Mode().Type())
	}
	q := url.Values{}
	if p.o.component != "" {
		q.Set("component", p.o.component)
	}
	if !p.o.publish {
		q.Set("publish", "false")
	}
	endpoint := p.base + "/api/v1/targets/" + p.target.String() + "/packages"
	if len(q) > 0 {
		endpoint += "?" + q.Encode()
	}
	var body io.Reader = f
	if out, ok := p.c.stderr.(*os.File); ok && st.Size() >= progressMin && term.IsTerminal(int(out.Fd())) {
		bar := progressbar.NewOptions64(st.Size(), progressbar.OptionSetWriter(out), progressbar.OptionSetDescription("uploading "+path),
			progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(), progressbar.OptionFullWidth(), progressbar.OptionSetRenderBlankState(true))
		r := progressbar.NewReader(f, bar)
		defer bar.Close()
		body = &r
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, body)
	if err != nil {
		return nil, 0, err
	}
	req.ContentLength = st.Size()
	p.headers(req)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		return nil, 0, &retryable{err: fmt.Errorf("send to %s: %w", p.base, unwrapURLError(err))}
	}
	defer resp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var r api.UploadResult
	jerr := json.Unmarshal(data, &r)
	switch {
	case (resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK) && rerr == nil && jerr == nil:
		return &r, resp.StatusCode, nil
	case resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK:
		// The reply was cut: the upload may or may not be recorded; sending
		// it again answers 200 if it is.
		return nil, resp.StatusCode, &retryable{err: fmt.Errorf("%s, but the reply was cut: %v%v", resp.Status, errOrEmpty(rerr), errOrEmpty(jerr))}
	}
	msg := r.Error
	if msg == "" {
		msg = strings.TrimSpace(string(data))
	}
	err = fmt.Errorf("%s: %s", resp.Status, msg)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return nil, resp.StatusCode, &retryable{err: err, after: retryAfter(resp.Header.Get("Retry-After"))}
	}
	return nil, resp.StatusCode, err
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// unwrapURLError drops net/http's "Post URL:" prefix (the URL holds the
// target, already on the line).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		var ne net.Error
		if errors.As(ue.Err, &ne) || ue.Err != nil {
			return ue.Err
		}
	}
	return err
}

// retryAfter reads a Retry-After header in seconds (0: none or a date).
func retryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}

// headers sets the token and the CI job and commit on req.
func (p *pusher) headers(req *http.Request) {
	req.Header.Set("Authorization", "Bearer "+p.o.token)
	if p.o.ciJob != "" {
		req.Header.Set(api.HeaderCIJobURL, p.o.ciJob)
	}
	if p.o.ciCommit != "" {
		req.Header.Set(api.HeaderCICommit, p.o.ciCommit)
	}
}

// targetState reads the target from GET /api/v1/targets.
func (p *pusher) targetState(ctx context.Context) (*repo.TargetInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/targets", nil)
	if err != nil {
		return nil, err
	}
	p.headers(req)
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, &retryable{err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, &retryable{err: err}
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("GET /api/v1/targets: %s: %s", resp.Status, strings.TrimSpace(string(data)))
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return nil, &retryable{err: err, after: retryAfter(resp.Header.Get("Retry-After"))}
		}
		return nil, err
	}
	var ts []repo.TargetInfo
	if err := json.Unmarshal(data, &ts); err != nil {
		return nil, fmt.Errorf("GET /api/v1/targets: %w", err)
	}
	for i := range ts {
		if ts[i].Target == p.target {
			return &ts[i], nil
		}
	}
	return nil, fmt.Errorf("the server does not list %s for this token", p.target)
}

// waitPublished waits until the live generation of the target holds the
// revision that the pushed files made (the target's revision read once
// every file is in: revisions only grow, and a generation records the
// revision it published), and fails when a publish fails after that
// (its failure count grows) or the timeout passes.
func (p *pusher) waitPublished(ctx context.Context) (*repo.Generation, error) {
	ctx, cancel := context.WithTimeout(ctx, p.o.waitTimeout)
	defer cancel()
	var want int64 = -1
	failures := 0
	for poll := 1; ; poll++ {
		ti, err := p.targetState(ctx)
		var re *retryable
		switch {
		case err != nil && !errors.As(err, &re):
			return nil, err
		case err != nil:
			fmt.Fprintf(p.c.stderr, "pier: waiting for %s: %v\n", p.target, err)
		case want < 0:
			want, failures = ti.Revision, ti.PublishFailures
			fallthrough
		default:
			if ti.Current != nil && ti.Current.Revision >= want {
				return ti.Current, nil
			}
			if ti.PublishFailures > failures {
				return nil, fmt.Errorf("the publish of %s failed: %s", p.target, ti.PublishError)
			}
		}
		if p.sleep(ctx, min(time.Duration(poll)*250*time.Millisecond, 2*time.Second)) != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%s was not published within %s (--wait-timeout)", p.target, p.o.waitTimeout)
			}
			return nil, ctx.Err()
		}
	}
}
