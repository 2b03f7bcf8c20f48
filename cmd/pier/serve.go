package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
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

// serving is the running server's state that a reload changes.
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
	log := newLogger(c.stderr, cfg.LogLevel, logFormat)
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
	var certs *certStore
	if cfg.TLS.enabled() {
		if certs, err = newCertStore(cfg.TLS.CertFile, cfg.TLS.KeyFile, log); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if certs != nil {
		scheme = "https"
	}
	base := cfg.PublicURL
	if base == "" {
		base = scheme + "://" + ln.Addr().String()
	}
	authCfg, err := authConfig(cfg, token)
	if err != nil {
		return err
	}
	authn, err := auth.New(a.cat, authCfg, log)
	if err != nil {
		return err
	}
	var ms []*mirror.Mirror
	for _, mc := range cfg.Mirrors {
		m, err := openMirror(ctx, cfg, mc)
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}
	a.mirrors = mirror.NewManager(a.svc, ms, log)
	ks := a.keys.set()
	apiCfg, err := apiConfig(cfg)
	if err != nil {
		return err
	}
	srv := api.New(apiCfg, api.Deps{Service: a.svc, Keys: keyFiles(ks), Fingerprint: ks.pgp.Fingerprint(),
		Fingerprints: ks.pgp.Fingerprints(), Auth: authn, Audit: a.cat, Mirrors: a.mirrors, Metrics: a.metrics,
		Ready: a.ready, Log: log})
	a.metrics.WatchTargets(func() ([]repo.TargetInfo, error) {
		ts, err := a.svc.Targets(context.Background())
		return repo.LiveTargets(ts), err
	}, authn.Private)
	a.metrics.WatchMirrors(a.mirrors.Status)
	st := &serving{cfg: cfg, a: a, authn: authn, srv: srv, certs: certs, log: log}
	st.publicURL.Store(&cfg.PublicURL)

	verb := "using"
	if ks.created {
		verb = "generated"
	}
	fmt.Fprintf(c.stdout, "pier %s serving %s on %s\n", shortVersion(), cfg.DataDir, base)
	fmt.Fprintf(c.stdout, "%s\n", w)
	fmt.Fprintf(c.stdout, "signing key (%s): %s\n", verb, ks.pgp.Fingerprint())
	for _, fpr := range ks.pgp.Fingerprints()[1:] {
		fmt.Fprintf(c.stdout, "signing key (also signs): %s\n", fpr)
	}
	fmt.Fprintf(c.stdout, "public key: %s/keys/pier.asc (binary keyring: %s/keys/pier.gpg)\n", base, base)
	fmt.Fprintf(c.stdout, "apk signing key: %s/keys/%s\n", base, ks.apk.KeyName())
	switch {
	case tokenPath == "":
		fmt.Fprintln(c.stdout, "admin token: from PIER_ADMIN_TOKEN")
	case tokenCreated:
		fmt.Fprintf(c.stdout, "admin token: generated in %s (mode 0600)\n", tokenPath)
	default:
		fmt.Fprintf(c.stdout, "admin token: in %s\n", tokenPath)
	}

	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	go a.svc.WatchView(watchCtx, time.Second)
	// Every target that owes a publish (an acknowledged upload whose
	// publish a crash or a failure lost) is published now, and retried
	// with a backoff while it fails.
	go a.svc.Reconcile(watchCtx, 2*time.Second)
	go a.svc.GCLoop(watchCtx, cfg.Retention.GCInterval, repo.GCOptions{Grace: cfg.Retention.GCGrace})
	// Roots with a Valid-Until (deb.valid_days) are re-signed before they
	// expire; a key ring that changed since the last start re-signs all.
	go a.svc.ResignLoop(watchCtx, 5*time.Second)
	go st.resignForNewRing(watchCtx)
	mirrorsDone := make(chan struct{})
	go func() { a.mirrors.Run(watchCtx); close(mirrorsDone) }()
	// Objects that no retained generation names are deleted by the first
	// sync after their grace; without publishes no sync would come, so the
	// mirrors are asked for one now and then (a sync with nothing to do
	// sends nothing to the mirror).
	go sweepMirrors(watchCtx, a.mirrors, sweepInterval(cfg.Mirrors))
	defer func() { stopWatch(); <-mirrorsDone }()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			sdNotify("RELOADING=1")
			st.reload(watchCtx, func() (*Config, where, error) { return c.load(cmd) })
			sdNotify("READY=1")
		}
	}()

	hs := srv.HTTPServer()
	lnServe := srv.Listener(ln)
	if certs != nil {
		hs.TLSConfig = &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12}
		// TLS outermost, so that net/http sees a *tls.Conn (r.TLS).
		lnServe = tls.NewListener(lnServe, hs.TLSConfig)
	}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(lnServe) }()
	var redirect *http.Server
	if certs != nil && cfg.TLS.RedirectListen != "" {
		rl, err := net.Listen("tcp", cfg.TLS.RedirectListen)
		if err != nil {
			hs.Close()
			return fmt.Errorf("listen for the HTTP redirect: %w", err)
		}
		redirect = redirectServer(ln.Addr().String(), func() string { return *st.publicURL.Load() }, log)
		fmt.Fprintf(c.stdout, "redirecting http://%s to https\n", rl.Addr())
		go func() { errc <- redirect.Serve(rl) }()
	}
	// The listener accepts, the catalog and keys are open: tell systemd
	// (Type=notify) that the service is up.
	if err := sdNotify("READY=1\nSTATUS=serving " + base); err != nil {
		log.Warn("notify systemd", "err", err)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight (at most 30s)")
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
	return api.Config{PublicURL: cfg.PublicURL, MaxUploadSize: int64(cfg.MaxUploadSize), GCGrace: cfg.Retention.GCGrace,
		TrustedProxies: proxies, Limits: cfg.Server.limits(), TargetsAllow: cfg.Targets.Allow}, nil
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
	log, running, a := st.log, st.cfg, st.a
	refuse := func(err error) { log.Error("reload refused, the running config stays in force", "err", err) }
	cfg, _, err := load()
	if err != nil {
		refuse(err)
		return
	}
	cfg.DataDir, cfg.Listen = running.DataDir, running.Listen
	token, _, _, err := adminToken(cfg)
	if err != nil || token == "" {
		refuse(fmt.Errorf("admin token: %w", err))
		return
	}
	authCfg, err := authConfig(cfg, token)
	if err != nil {
		refuse(err)
		return
	}
	var ms []*mirror.Mirror
	for _, mc := range cfg.Mirrors {
		m, err := openMirror(ctx, cfg, mc)
		if err != nil {
			refuse(err)
			return
		}
		ms = append(ms, m)
	}
	ks, err := loadKeySet(cfg, false)
	if err != nil {
		refuse(err)
		return
	}
	old := a.keys.set()
	keysChanged := !slices.Equal(ks.pgp.Fingerprints(), old.pgp.Fingerprints()) || ks.apk.KeyName() != old.apk.KeyName() ||
		string(ks.apk.PublicPEM()) != string(old.apk.PublicPEM())
	if !keysChanged {
		ks = old
	}
	var certs *certStore
	switch {
	case st.certs != nil && cfg.TLS.enabled() && (cfg.TLS.CertFile != running.TLS.CertFile || cfg.TLS.KeyFile != running.TLS.KeyFile):
		if certs, err = newCertStore(cfg.TLS.CertFile, cfg.TLS.KeyFile, log); err != nil {
			refuse(err)
			return
		}
	case st.certs != nil:
		if err := st.certs.check(); err != nil {
			refuse(err)
			return
		}
	}
	apiCfg, err := apiConfig(cfg)
	if err != nil {
		refuse(err)
		return
	}

	// Everything loaded: apply.
	if err := a.svc.SetRetention(cfg.Retention.Rules); err != nil {
		refuse(err) // checked by Config.Validate: does not happen
		return
	}
	formatsChanged := keysChanged ||
		fmt.Sprint(cfg.Distros, cfg.Deb, cfg.RPM, cfg.APK) != fmt.Sprint(running.Distros, running.Deb, running.RPM, running.APK)
	if formatsChanged {
		if err := a.svc.SetFormats(formatsFor(cfg, ks)); err != nil {
			refuse(err)
			return
		}
	}
	if keysChanged {
		a.keys.cur.Store(ks)
		st.srv.SetKeys(keyFiles(ks), ks.pgp.Fingerprints())
	}
	if certs != nil {
		st.certs.replace(certs)
	} else if st.certs != nil {
		st.certs.reload()
	}
	authChanged, err := st.authn.Configure(authCfg) // validated by authConfig: cannot fail
	if err != nil {
		log.Error("reload: auth", "err", err)
	}
	st.srv.Reconfigure(apiCfg)
	mirrorsChanged := fmt.Sprint(cfg.Mirrors) != fmt.Sprint(running.Mirrors)
	if mirrorsChanged {
		a.mirrors.Replace(ms)
	}
	log.Info("reloaded", "auth_changed", authChanged, "mirrors_changed", mirrorsChanged, "target_settings_changed", formatsChanged,
		"keys_changed", keysChanged, "keys", ks.pgp.Fingerprints())
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
	*running = *cfg
	st.publicURL.Store(&cfg.PublicURL)
	if keysChanged {
		go st.resignForNewRing(ctx)
	}
}
