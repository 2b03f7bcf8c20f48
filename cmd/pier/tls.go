package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TLSConfig makes pier serve answer HTTPS itself.
type TLSConfig struct {
	// CertFile is the PEM certificate chain (the server's certificate
	// first); KeyFile its PEM private key. Both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// RedirectListen, when set, is an address (":80") where plain HTTP
	// requests are answered with a redirect to the HTTPS URL.
	RedirectListen string `yaml:"redirect_listen"`
}

func (t TLSConfig) enabled() bool { return t.CertFile != "" }

func (t TLSConfig) validate() error {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return fmt.Errorf("tls: cert_file and key_file go together (both or neither)")
	}
	if t.RedirectListen != "" && !t.enabled() {
		return fmt.Errorf("tls.redirect_listen needs tls.cert_file and tls.key_file")
	}
	return nil
}

// certCheckEvery bounds how often a handshake looks at the certificate
// files for a change.
const certCheckEvery = time.Second

// certStore holds the serving certificate and reloads it when its files
// change (a renewal by certbot or cert-manager) or when asked (SIGHUP). A
// pair that does not load (a renewal half written, a key that does not
// match) keeps the previous certificate in force; the log says why.
type certStore struct {
	certFile, keyFile string
	log               *slog.Logger

	cur atomic.Pointer[tls.Certificate]

	mu      sync.Mutex
	stamp   string    // size and modification time of both files when last read
	checked time.Time // when the files were last looked at
}

// newCertStore loads the pair; an error names the files.
func newCertStore(certFile, keyFile string, log *slog.Logger) (*certStore, error) {
	s := &certStore{certFile: certFile, keyFile: keyFile, log: log}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// fileStamp describes both files for change detection.
func (s *certStore) fileStamp() string {
	var b strings.Builder
	for _, f := range []string{s.certFile, s.keyFile} {
		if fi, err := os.Stat(f); err == nil {
			fmt.Fprintf(&b, "%d:%d;", fi.Size(), fi.ModTime().UnixNano())
		} else {
			b.WriteString("missing;")
		}
	}
	return b.String()
}

// load reads the pair and puts it in force. s.mu is held or s is new.
func (s *certStore) load() error {
	stamp := s.fileStamp()
	cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	s.stamp, s.checked = stamp, time.Now()
	if err != nil {
		return fmt.Errorf("tls certificate %s with key %s: %w", s.certFile, s.keyFile, err)
	}
	s.cur.Store(&cert)
	return nil
}

// GetCertificate is tls.Config.GetCertificate: the certificate in force,
// reloaded first when its files changed.
func (s *certStore) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	if time.Since(s.checked) >= certCheckEvery {
		s.checked = time.Now()
		if st := s.fileStamp(); st != s.stamp {
			if err := s.load(); err != nil {
				s.log.Error("tls certificate changed but does not load; the previous one stays in force", "err", err)
			} else {
				s.log.Info("tls certificate reloaded", "cert_file", s.certFile)
			}
		}
	}
	s.mu.Unlock()
	return s.cur.Load(), nil
}

// check loads the pair without putting it in force (a reload's check).
func (s *certStore) check() error {
	if _, err := tls.LoadX509KeyPair(s.certFile, s.keyFile); err != nil {
		return fmt.Errorf("tls certificate %s with key %s: %w", s.certFile, s.keyFile, err)
	}
	return nil
}

// reload reads the files again and puts the pair in force.
func (s *certStore) reload() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil {
		s.log.Error("tls certificate does not load; the previous one stays in force", "err", err)
	}
}

// replace takes over the files and certificate of o (new paths in the
// config).
func (s *certStore) replace(o *certStore) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certFile, s.keyFile, s.stamp, s.checked = o.certFile, o.keyFile, o.stamp, o.checked
	s.cur.Store(o.cur.Load())
}

// redirectServer answers plain HTTP with a redirect to the same path over
// HTTPS: to public_url when it is an https URL, else to the request's host
// on the port of tlsAddr (left out when 443). GET and HEAD get 301, other
// methods 308 (which keeps the method and body).
func redirectServer(tlsAddr string, publicURL func() string, log *slog.Logger) *http.Server {
	_, port, _ := net.SplitHostPort(tlsAddr)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := ""
		if u := strings.TrimSuffix(publicURL(), "/"); strings.HasPrefix(u, "https://") {
			target = u + r.URL.RequestURI()
		} else {
			host := r.Host
			if hh, _, err := net.SplitHostPort(host); err == nil {
				host = hh
			}
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			if port != "" && port != "443" {
				host += ":" + port
			}
			target = "https://" + host + r.URL.RequestURI()
		}
		code := http.StatusPermanentRedirect
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			code = http.StatusMovedPermanently
		}
		http.Redirect(w, r, target, code)
	})
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}
