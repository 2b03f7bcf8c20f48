package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/mirror"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pier serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	listen := fs.String("listen", "", "listen address (overrides listen; env PIER_LISTEN)")
	logFormat := fs.String("log-format", getenv("PIER_LOG_FORMAT", "auto"), "log format: text, json, or auto (text on a terminal, JSON otherwise; env PIER_LOG_FORMAT)")
	if err := fs.Parse(args); err != nil {
		return errSilent
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	if *listen == "" {
		*listen = getenv("PIER_LISTEN", cfg.Listen)
	}
	cfg.Listen = *listen
	switch *logFormat {
	case "text", "json", "auto":
	default:
		return fmt.Errorf("--log-format %q: want text, json or auto", *logFormat)
	}
	log := newLogger(stderr, cfg.LogLevel, *logFormat)
	a, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	// Blob writes a crashed process left half done. (pier import running
	// during this start would lose an index write in flight and fail.)
	if c, ok := a.backend.(interface{ CleanTemp() error }); ok {
		if err := c.CleanTemp(); err != nil {
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
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := cfg.PublicURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	authCfg, err := authConfig(cfg, token)
	if err != nil {
		return err
	}
	authn, err := auth.New(tokenStore{a.cat}, authCfg, log)
	if err != nil {
		return err
	}
	proxies, err := cfg.Auth.trustedProxies()
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
	srv := api.New(api.Config{PublicURL: cfg.PublicURL, MaxUploadSize: int64(cfg.MaxUploadSize), GCGrace: cfg.Retention.GCGrace,
		TrustedProxies: proxies, Limits: cfg.Server.limits()},
		api.Deps{Service: a.svc, Keys: a.keyFiles(), Fingerprint: a.signer.Fingerprint(), Fingerprints: a.signer.Fingerprints(), Auth: authn, Audit: a.cat,
			Mirrors: a.mirrors, Metrics: a.metrics, Ready: a.ready, Log: log})
	a.metrics.WatchTargets(func() ([]repo.TargetInfo, error) { return a.svc.Targets(context.Background()) }, authn.Private)
	a.metrics.WatchMirrors(a.mirrors.Status)

	verb := "using"
	if a.created {
		verb = "generated"
	}
	fmt.Fprintf(stdout, "pier %s serving %s on %s\n", version, cfg.DataDir, base)
	fmt.Fprintf(stdout, "signing key (%s): %s\n", verb, a.signer.Fingerprint())
	for _, fpr := range a.signer.Fingerprints()[1:] {
		fmt.Fprintf(stdout, "signing key (also signs): %s\n", fpr)
	}
	fmt.Fprintf(stdout, "public key: %s/keys/pier.asc (binary keyring: %s/keys/pier.gpg)\n", base, base)
	fmt.Fprintf(stdout, "apk signing key: %s/keys/%s\n", base, a.apkKey.KeyName())
	switch {
	case tokenPath == "":
		fmt.Fprintln(stdout, "admin token: from PIER_ADMIN_TOKEN")
	case tokenCreated:
		fmt.Fprintf(stdout, "admin token: generated in %s (mode 0600)\n", tokenPath)
	default:
		fmt.Fprintf(stdout, "admin token: in %s\n", tokenPath)
	}

	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	// The service's background work: the served view follows pier import's
	// publishes, every target that owes a publish (an acknowledged upload
	// whose publish a crash or a failure lost) is published now and retried
	// with a backoff while it fails, roots with a Valid-Until
	// (deb.valid_days) are re-signed before they expire, and garbage is
	// collected every retention.gc_interval. a.Close stops the publishes.
	runDone := make(chan struct{})
	go func() { a.svc.Run(watchCtx); close(runDone) }()
	// A key ring that changed since the last start re-signs all.
	go resignForNewRing(watchCtx, a, log)
	mirrorsDone := make(chan struct{})
	go func() { a.mirrors.Run(watchCtx); close(mirrorsDone) }()
	defer func() { stopWatch(); <-mirrorsDone; <-runDone }()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			sdNotify("RELOADING=1")
			reload(ctx, &cf, cfg, a, authn, log)
			sdNotify("READY=1")
		}
	}()

	hs := srv.HTTPServer()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(srv.Listener(ln)) }()
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
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// reload re-reads the config on SIGHUP and applies what can change while
// serving, without dropping connections: the admin token
// (auth.admin_token_file or <data>/admin.token; PIER_ADMIN_TOKEN cannot
// change), the configured tokens, private targets and rate limits (the
// auth section but trusted_proxies), the mirrors, and the targets' settings (distros and the deb, rpm
// and apk sections). An invalid config changes nothing and the log says
// why; settings that need a restart (listen, data_dir, storage, signing,
// publish, server) are named in the log.
func reload(ctx context.Context, cf *commonFlags, running *Config, a *app, authn *auth.Authenticator, log *slog.Logger) {
	refuse := func(err error) { log.Error("reload refused, the running config stays in force", "err", err) }
	cfg, err := cf.load()
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
	if err := a.svc.SetRetention(cfg.Retention.Rules); err != nil {
		refuse(err)
		return
	}
	formatsChanged := fmt.Sprint(cfg.Distros, cfg.Deb, cfg.RPM, cfg.APK) != fmt.Sprint(running.Distros, running.Deb, running.RPM, running.APK)
	if formatsChanged {
		if err := a.svc.SetFormats(a.formats(cfg)); err != nil {
			refuse(err)
			return
		}
	}
	authChanged, err := authn.Configure(authCfg) // validated by authConfig: cannot fail
	if err != nil {
		log.Error("reload: auth", "err", err)
	}
	mirrorsChanged := fmt.Sprint(cfg.Mirrors) != fmt.Sprint(running.Mirrors)
	if mirrorsChanged {
		a.mirrors.Replace(ms)
	}
	log.Info("reloaded", "auth_changed", authChanged, "mirrors_changed", mirrorsChanged, "target_settings_changed", formatsChanged)
	if fmt.Sprint(cfg.Storage, cfg.Signing, cfg.Publish, cfg.MaxUploadSize, cfg.PublicURL, cfg.Server.limits()) !=
		fmt.Sprint(running.Storage, running.Signing, running.Publish, running.MaxUploadSize, running.PublicURL, running.Server.limits()) {
		log.Warn("reload: storage, signing, publish, server, max_upload_size and public_url changes apply at the next restart")
	}
	if keyRingChanged(cfg, a) {
		log.Warn("reload: the signing keys changed; restart pier serve to sign with them (it then re-signs every target)")
	}
	if fmt.Sprint(cfg.Auth.TrustedProxies) != fmt.Sprint(running.Auth.TrustedProxies) {
		log.Warn("reload: auth.trusted_proxies changes apply at the next restart")
	}
	cfg.Auth.TrustedProxies = running.Auth.TrustedProxies
	cfg.Storage, cfg.Signing, cfg.Publish, cfg.MaxUploadSize, cfg.PublicURL = running.Storage, running.Signing, running.Publish, running.MaxUploadSize, running.PublicURL
	cfg.Server = running.Server
	*running = *cfg
}
