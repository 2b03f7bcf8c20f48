package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/internal/groupwrite"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/mirror"
)

func (c *cli) serveCmd() *cobra.Command {
	var listen, logFormat string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run the server: upload API, publishing, repository files (creates the data directory on first start)",
		Long: `Run the server. Without any config it keeps its data in ./pier-data and listens on 127.0.0.1:8080;
the data directory, its signing keys and the admin token are created on first start.

SIGHUP reloads the config, the signing keys (new and retired keys sign from the next publish; every
target is re-signed at once) and the TLS certificate; a config or key that does not load is refused
and the running state kept, with the reason in the log.`,
		Args: args(0, 0, "no arguments"),
	}
	c.dataFlags(cmd)
	cmd.Flags().StringVar(&listen, "listen", "", "listen address (overrides listen; env PIER_LISTEN)")
	cmd.Flags().StringVar(&logFormat, "log-format", "", "log format: text, json, or auto (text on a terminal, JSON otherwise; env PIER_LOG_FORMAT)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if logFormat == "" {
			logFormat = getenv("PIER_LOG_FORMAT", "auto")
		}
		switch logFormat {
		case "text", "json", "auto":
		default:
			return usagef(cmd, "--log-format %q: want text, json or auto", logFormat)
		}
		return c.serve(cmd.Context(), cmd, listen, logFormat)
	}
	return cmd
}

// serving is the running server: what a reload changes, and what the
// loops and listeners need.
type serving struct {
	cfg    *Config // the config in force
	a      *app
	authn  *auth.Authenticator
	srv    *api.Server
	certs  *certStore // nil without TLS
	log    *slog.Logger
	resign sync.Mutex // one re-sign of every target at a time
	// publicURL is public_url in force, for the HTTP redirect.
	publicURL atomic.Pointer[string]
	ln        net.Listener
	base      string // the URL the banner names
}

func (c *cli) serve(ctx context.Context, cmd *cobra.Command, listen, logFormat string) error {
	cfg, w, err := c.load(cmd)
	if err != nil {
		return err
	}
	if listen == "" {
		listen = getenv("PIER_LISTEN", cfg.Listen)
	}
	cfg.Listen = listen
	// One request log line per request: written in groups by one
	// goroutine, so a busy server does not make a write call for each.
	logw := groupwrite.New(c.stderr, 1<<20)
	defer logw.Close()
	log := newLogger(logw, cfg.LogLevel, logFormat)
	a, err := open(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer a.Close()
	// Blob writes a crashed process left half done. (pier import running
	// during this start would lose an index write in flight and fail.)
	if cl, ok := a.backend.(interface{ CleanTemp() error }); ok {
		if err := cl.CleanTemp(); err != nil {
			return err
		}
	}
	token, tokenPath, tokenCreated, err := adminToken(cfg)
	if err != nil {
		return err
	}
	if err := a.svc.RefreshView(ctx); err != nil {
		return err
	}
	st, err := newServing(ctx, a, token, log)
	if err != nil {
		return err
	}
	defer st.ln.Close()
	st.banner(c.stdout, w, tokenPath, tokenCreated)
	stop := st.startLoops(func() (*Config, where, error) { return c.load(cmd) })
	defer stop()
	return st.run(ctx, c.stdout)
}

// newServing loads the TLS certificate, listens, and wires the
// authenticator, the mirrors and the HTTP API of a.
func newServing(ctx context.Context, a *app, adminToken string, log *slog.Logger) (*serving, error) {
	cfg := a.cfg
	st := &serving{cfg: cfg, a: a, log: log}
	st.publicURL.Store(&cfg.PublicURL)
	var err error
	if cfg.TLS.enabled() {
		if st.certs, err = newCertStore(cfg.TLS.CertFile, cfg.TLS.KeyFile, log); err != nil {
			return nil, err
		}
	}
	authCfg, err := authConfig(cfg, adminToken)
	if err != nil {
		return nil, err
	}
	if st.authn, err = auth.New(tokenStore{a.cat}, authCfg, log); err != nil {
		return nil, err
	}
	var ms []*mirror.Mirror
	for _, mc := range cfg.Mirrors {
		m, err := openMirror(ctx, cfg, mc, a.cat)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	a.mirrors = mirror.NewManager(a.svc, ms, log)
	apiCfg, err := apiConfig(cfg)
	if err != nil {
		return nil, err
	}
	ks := a.keys.set()
	st.srv = api.New(apiCfg, api.Deps{Service: a.svc, Keys: keyFiles(ks), Fingerprint: ks.pgp.Fingerprint(),
		Fingerprints: ks.pgp.Fingerprints(), Auth: st.authn, Audit: a.cat, Mirrors: a.mirrors, Metrics: a.metrics,
		Ready: a.ready, Log: log})
	a.metrics.WatchTargets(func() ([]repo.TargetInfo, error) {
		ts, err := a.svc.Targets(context.Background())
		return repo.LiveTargets(ts), err
	}, st.authn.Private)
	a.metrics.WatchMirrors(a.mirrors.Status)
	if st.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	st.base = cfg.PublicURL
	if st.base == "" {
		scheme := "http"
		if st.certs != nil {
			scheme = "https"
		}
		st.base = scheme + "://" + st.ln.Addr().String()
	}
	return st, nil
}

// banner prints what pier serve serves, with which keys and admin token.
func (st *serving) banner(out io.Writer, w where, tokenPath string, tokenCreated bool) {
	ks, base := st.a.keys.set(), st.base
	verb := "using"
	if ks.created {
		verb = "generated"
	}
	fmt.Fprintf(out, "pier %s serving %s on %s\n", shortVersion(), st.cfg.DataDir, base)
	fmt.Fprintf(out, "%s\n", w)
	fmt.Fprintf(out, "signing key (%s): %s\n", verb, ks.pgp.Fingerprint())
	for _, fpr := range ks.pgp.Fingerprints()[1:] {
		fmt.Fprintf(out, "signing key (also signs): %s\n", fpr)
	}
	fmt.Fprintf(out, "public key: %s/keys/pier.asc (binary keyring: %s/keys/pier.gpg)\n", base, base)
	fmt.Fprintf(out, "apk signing key: %s/keys/%s\n", base, ks.apk.KeyName())
	switch {
	case tokenPath == "":
		fmt.Fprintln(out, "admin token: from PIER_ADMIN_TOKEN")
	case tokenCreated:
		fmt.Fprintf(out, "admin token: generated in %s (mode 0600)\n", tokenPath)
	default:
		fmt.Fprintf(out, "admin token: in %s\n", tokenPath)
	}
}

// startLoops starts what runs beside the listeners (the service's
// background work, re-signing for a new key ring, mirrors and their sweep,
// SIGHUP reloads with load) and returns the function that stops them.
func (st *serving) startLoops(load func() (*Config, where, error)) (stop func()) {
	a, cfg := st.a, st.cfg
	ctx, cancel := context.WithCancel(context.Background())
	// The service's background work: the served view follows pier import's
	// publishes, every target that owes a publish (an acknowledged upload
	// whose publish a crash or a failure lost) is published now and retried
	// with a backoff while it fails, roots with a Valid-Until
	// (deb.valid_days) are re-signed before they expire, and garbage is
	// collected every retention.gc_interval. a.Close stops the publishes.
	runDone := make(chan struct{})
	go func() { a.svc.Run(ctx); close(runDone) }()
	// A key ring that changed since the last start re-signs all.
	go st.resignForNewRing(ctx)
	mirrorsDone := make(chan struct{})
	go func() { a.mirrors.Run(ctx); close(mirrorsDone) }()
	// Objects that no retained generation names are deleted by the first
	// sync after their grace; without publishes no sync would come, so the
	// mirrors are asked for one now and then (a sync with nothing to do
	// sends nothing to the mirror).
	go sweepMirrors(ctx, a.mirrors, sweepInterval(cfg.Mirrors))
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			sdNotify("RELOADING=1")
			st.reload(ctx, load)
			sdNotify("READY=1")
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-mirrorsDone
		<-runDone
	}
}

// run serves HTTP(S) (and the HTTP redirect) until ctx ends, then shuts
// down, letting requests in flight finish for at most 30 s.
func (st *serving) run(ctx context.Context, out io.Writer) error {
	hs := st.srv.HTTPServer()
	if err := st.mountWeb(ctx, hs); err != nil {
		return err
	}
	lnServe := st.srv.Listener(st.ln)
	if st.certs != nil {
		hs.TLSConfig = &tls.Config{GetCertificate: st.certs.GetCertificate, MinVersion: tls.VersionTLS12}
		// TLS outermost, so that net/http sees a *tls.Conn (r.TLS).
		lnServe = tls.NewListener(lnServe, hs.TLSConfig)
	}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(lnServe) }()
	var redirect *http.Server
	if st.certs != nil && st.cfg.TLS.RedirectListen != "" {
		rl, err := net.Listen("tcp", st.cfg.TLS.RedirectListen)
		if err != nil {
			hs.Close()
			return fmt.Errorf("listen for the HTTP redirect: %w", err)
		}
		redirect = redirectServer(st.ln.Addr().String(), func() string { return *st.publicURL.Load() }, st.log)
		fmt.Fprintf(out, "redirecting http://%s to https\n", rl.Addr())
		go func() { errc <- redirect.Serve(rl) }()
	}
	if addr := getenv("PIER_PPROF_LISTEN", st.cfg.Server.PprofListen); addr != "" {
		_, stopPprof, err := servePprof(addr, st.log)
		if err != nil {
			hs.Close()
			return err
		}
		defer stopPprof()
	}
	// The listener accepts, the catalog and keys are open: tell systemd
	// (Type=notify) that the service is up.
	if err := sdNotify("READY=1\nSTATUS=serving " + st.base); err != nil {
		st.log.Warn("notify systemd", "err", err)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	st.log.Info("shutting down: finishing requests in flight (at most 30s)")
	sdNotify("STOPPING=1")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if redirect != nil {
		redirect.Shutdown(sctx)
	}
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// sweepInterval is how often pier serve asks the mirrors for a sync when
// nothing was published: half the shortest grace, within 1 s and 10 min.
func sweepInterval(ms []MirrorConfig) time.Duration {
	d := 10 * time.Minute
	for _, m := range ms {
		d = min(d, m.Grace/2)
	}
	return max(d, time.Second)
}

// sweepMirrors triggers a sync of every mirror every interval until ctx
// ends.
func sweepMirrors(ctx context.Context, m *mirror.Manager, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Trigger()
		}
	}
}

// apiConfig is the api.Config of cfg.
func apiConfig(cfg *Config) (api.Config, error) {
	proxies, err := cfg.Auth.trustedProxies()
	if err != nil {
		return api.Config{}, err
	}
	uploaders, err := uploaderRules(cfg.Uploaders)
	if err != nil {
		return api.Config{}, err
	}
	return api.Config{PublicURL: cfg.PublicURL, MaxUploadSize: int64(cfg.MaxUploadSize), GCGrace: cfg.Retention.GCGrace,
		TrustedProxies: proxies, Limits: cfg.Server.limits(), TargetsAllow: cfg.Targets.Allow, Uploaders: uploaders}, nil
}

// reload re-reads the config on SIGHUP and applies what can change while
// serving, without dropping connections: the admin token
// (auth.admin_token_file or <data>/admin.token; PIER_ADMIN_TOKEN cannot
// change), the configured tokens, private targets, rate limits and trusted
// proxies, public_url, targets.allow, the mirrors, retention, the targets'
// settings (distros and the deb, rpm and apk sections), the signing keys
// (the ring and the apk key: they sign from the next publish, and every
// target is re-signed at once) and the TLS certificate. Everything is
// loaded and checked before anything changes: a config, key or certificate
// that does not load is refused, the running state stays and the log says
// why. Settings that need a restart (listen, data_dir, storage, publish,
// server, max_upload_size, turning TLS on or off, tls.redirect_listen) are
// named in the log.
func (st *serving) reload(ctx context.Context, load func() (*Config, where, error)) {
	cfg, _, err := load()
	if err == nil {
		var plan *reloadPlan
		if plan, err = st.prepareReload(ctx, cfg); err == nil {
			err = st.applyReload(ctx, plan)
		}
	}
	if err != nil {
		st.log.Error("reload refused, the running config stays in force", "err", err)
	}
}

// reloadPlan is everything a reload loaded and checked before it changes
// anything.
type reloadPlan struct {
	cfg         *Config
	authCfg     auth.Config
	mirrors     []*mirror.Mirror
	keys        *keySet
	keysChanged bool
	certs       *certStore // new certificate files, or nil
	apiCfg      api.Config
}

// prepareReload loads what cfg names: the admin and configured tokens, the
// mirrors, the keys, the certificate.
func (st *serving) prepareReload(ctx context.Context, cfg *Config) (*reloadPlan, error) {
	running := st.cfg
	cfg.DataDir, cfg.Listen = running.DataDir, running.Listen
	p := &reloadPlan{cfg: cfg}
	token, _, _, err := adminToken(cfg)
	if err != nil || token == "" {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	if p.authCfg, err = authConfig(cfg, token); err != nil {
		return nil, err
	}
	for _, mc := range cfg.Mirrors {
		m, err := openMirror(ctx, cfg, mc, st.a.cat)
		if err != nil {
			return nil, err
		}
		p.mirrors = append(p.mirrors, m)
	}
	if p.keys, err = loadKeySet(cfg, false); err != nil {
		return nil, err
	}
	old := st.a.keys.set()
	p.keysChanged = !slices.Equal(p.keys.pgp.Fingerprints(), old.pgp.Fingerprints()) || p.keys.apk.KeyName() != old.apk.KeyName() ||
		string(p.keys.apk.PublicPEM()) != string(old.apk.PublicPEM())
	if !p.keysChanged {
		p.keys = old
	}
	switch {
	case st.certs != nil && cfg.TLS.enabled() && (cfg.TLS.CertFile != running.TLS.CertFile || cfg.TLS.KeyFile != running.TLS.KeyFile):
		if p.certs, err = newCertStore(cfg.TLS.CertFile, cfg.TLS.KeyFile, st.log); err != nil {
			return nil, err
		}
	case st.certs != nil:
		if err := st.certs.check(); err != nil {
			return nil, err
		}
	}
	if p.apiCfg, err = apiConfig(cfg); err != nil {
		return nil, err
	}
	return p, nil
}

// applyReload puts a prepared reload in force and names in the log what
// needs a restart.
func (st *serving) applyReload(ctx context.Context, p *reloadPlan) error {
	log, running, a, cfg, ks := st.log, st.cfg, st.a, p.cfg, p.keys
	if err := a.svc.SetRetention(cfg.Retention.Rules); err != nil {
		return err // checked by Config.Validate: does not happen
	}
	formatsChanged := p.keysChanged ||
		fmt.Sprint(cfg.Distros, cfg.Deb, cfg.RPM, cfg.APK) != fmt.Sprint(running.Distros, running.Deb, running.RPM, running.APK)
	if formatsChanged {
		if err := a.svc.SetFormats(formatsFor(cfg, ks)); err != nil {
			return err
		}
	}
	if p.keysChanged {
		a.keys.cur.Store(ks)
		st.srv.SetKeys(keyFiles(ks), ks.pgp.Fingerprints())
	}
	if p.certs != nil {
		st.certs.replace(p.certs)
	} else if st.certs != nil {
		st.certs.reload()
	}
	authChanged, err := st.authn.Configure(p.authCfg) // validated by authConfig: cannot fail
	if err != nil {
		log.Error("reload: auth", "err", err)
	}
	st.srv.Reconfigure(p.apiCfg)
	mirrorsChanged := fmt.Sprint(cfg.Mirrors) != fmt.Sprint(running.Mirrors)
	if mirrorsChanged {
		a.mirrors.Replace(p.mirrors)
	}
	log.Info("reloaded", "auth_changed", authChanged, "mirrors_changed", mirrorsChanged, "target_settings_changed", formatsChanged,
		"keys_changed", p.keysChanged, "keys", ks.pgp.Fingerprints())
	if fmt.Sprint(cfg.Storage, cfg.Publish, cfg.MaxUploadSize, cfg.Server.limits()) !=
		fmt.Sprint(running.Storage, running.Publish, running.MaxUploadSize, running.Server.limits()) {
		log.Warn("reload: storage, publish, server and max_upload_size changes apply at the next restart")
	}
	if cfg.TLS.enabled() != running.TLS.enabled() || cfg.TLS.RedirectListen != running.TLS.RedirectListen {
		log.Warn("reload: turning TLS on or off and tls.redirect_listen apply at the next restart")
	}
	cfg.Storage, cfg.Publish, cfg.MaxUploadSize, cfg.Server = running.Storage, running.Publish, running.MaxUploadSize, running.Server
	if cfg.TLS.enabled() != running.TLS.enabled() {
		cfg.TLS = running.TLS
	}
	cfg.TLS.RedirectListen = running.TLS.RedirectListen
	st.cfg = cfg
	st.publicURL.Store(&cfg.PublicURL)
	if p.keysChanged {
		go st.resignForNewRing(ctx)
	}
	return nil
}
