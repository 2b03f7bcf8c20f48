package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/repo"
)

func cmdPush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("pier push", flag.ContinueOnError)
	fset.SetOutput(stderr)
	server := fset.String("server", os.Getenv("PIER_SERVER"), "Pier URL, e.g. https://pier.example.org (env PIER_SERVER)")
	token := fset.String("token", os.Getenv("PIER_TOKEN"), "API token (env PIER_TOKEN)")
	component := fset.String("component", "", "component (deb) or repository (apk); default main")
	publish := fset.Bool("publish", true, "publish after the upload")
	envJob, envCommit := ciFromEnv()
	ciJob := fset.String("ci-job-url", envJob, "CI job URL for the audit log (default from GitHub Actions' or GitLab CI's environment)")
	ciCommit := fset.String("ci-commit", envCommit, "commit for the audit log (default $GITHUB_SHA or $CI_COMMIT_SHA)")
	if err := fset.Parse(args); err != nil {
		return errSilent
	}
	if fset.NArg() < 2 {
		return fmt.Errorf("usage: pier push --server URL --token T STREAM/DISTRO/RELEASE FILE_OR_DIR...")
	}
	if *server == "" || *token == "" {
		return fmt.Errorf("pier push needs --server and --token (or PIER_SERVER and PIER_TOKEN)")
	}
	t, err := repo.ParseTarget(fset.Arg(0))
	if err != nil {
		return err
	}
	// Directories are walked for .deb, .rpm and .apk files, as pier import
	// does; files named explicitly are sent whatever their name, but only
	// regular files (a device or a FIFO is refused here, not sent).
	files, err := collect(fset.Args()[1:])
	if err != nil {
		return err
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil {
			return err
		} else if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file (%s): nothing was sent", f, st.Mode().Type())
		}
	}
	q := url.Values{}
	if *component != "" {
		q.Set("component", *component)
	}
	if !*publish {
		q.Set("publish", "false")
	}
	endpoint := strings.TrimSuffix(*server, "/") + "/api/v1/targets/" + t.String() + "/packages"
	if len(q) > 0 {
		endpoint += "?" + q.Encode()
	}
	client := &http.Client{Timeout: 0}
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+*token)
	if *ciJob != "" {
		hdr.Set(api.HeaderCIJobURL, *ciJob)
	}
	if *ciCommit != "" {
		hdr.Set(api.HeaderCICommit, *ciCommit)
	}
	failed := 0
	for _, path := range files {
		line, err := pushRetrying(ctx, client, endpoint, hdr, path, stderr)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %v\n", path, err)
			continue
		}
		fmt.Fprintln(stdout, line)
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "pier: %d of %d uploads failed\n", failed, len(files))
		return errSilent
	}
	return nil
}

// pushAttempts is how often pier push sends a file that the server
// refuses with 429 (too many uploads at once), waiting its Retry-After
// (at most maxRetryWait) in between.
const (
	pushAttempts = 5
	maxRetryWait = time.Minute
)

// errBusy is a 429 reply; wait is its Retry-After.
type errBusy struct {
	msg  string
	wait time.Duration
}

func (e *errBusy) Error() string { return e.msg }

// pushRetrying sends path with pushFile, again after a 429.
func pushRetrying(ctx context.Context, client *http.Client, endpoint string, hdr http.Header, path string, stderr io.Writer) (string, error) {
	for attempt := 1; ; attempt++ {
		line, err := pushFile(ctx, client, endpoint, hdr, path)
		var busy *errBusy
		if !errors.As(err, &busy) || attempt == pushAttempts {
			return line, err
		}
		fmt.Fprintf(stderr, "pier: %s: %v; retrying in %s\n", path, err, busy.wait)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(busy.wait):
		}
	}
}

// pushFile streams one file as the raw request body, with the headers hdr
// (the token, the CI job and commit).
func pushFile(ctx context.Context, client *http.Client, endpoint string, hdr http.Header, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("not a regular file (%s): not sent", st.Mode().Type())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, f)
	if err != nil {
		return "", err
	}
	req.ContentLength = st.Size()
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var r struct {
		Name, Version, Architecture, Path, Error string
		Created                                  bool
	}
	_ = json.Unmarshal(body, &r)
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusOK:
		what := "added"
		if resp.StatusCode == http.StatusOK {
			what = "unchanged"
		}
		return fmt.Sprintf("%s %s %s %s %s (%s, %.1fs)", what, r.Name, r.Version, r.Architecture, path, r.Path,
			time.Since(start).Seconds()), nil
	default:
		msg := r.Error
		if msg == "" {
			msg = strings.TrimSpace(string(body))
		}
		err := fmt.Errorf("%s: %s", resp.Status, msg)
		if resp.StatusCode == http.StatusTooManyRequests {
			wait := time.Second
			if n, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && n > 0 {
				wait = min(time.Duration(n)*time.Second, maxRetryWait)
			}
			return "", &errBusy{msg: err.Error(), wait: wait}
		}
		return "", err
	}
}
