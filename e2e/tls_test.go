package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Pier test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a server certificate for 127.0.0.1 and localhost with
// serial into certFile and keyFile.
func (ca *testCA) issue(t *testing.T, serial int64, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Both files replaced by rename, as certbot and cert-manager do.
	for _, f := range []struct {
		path string
		data []byte
	}{{certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})},
		{keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})}} {
		tmp := f.path + ".new"
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
}

// client returns an HTTP client that trusts only ca and does not follow
// redirects.
func (ca *testCA) client() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// servedSerial returns the serial of the certificate Pier presents.
func servedSerial(t *testing.T, ca *testCA, addr string) int64 {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestTLSClients: with tls.cert_file and key_file Pier serves HTTPS, and
// apt-get (Acquire::https::CaInfo), dnf (sslcacert) and go-apk (an
// http.Client whose RootCAs hold the test CA) install from it; the setup
// snippets use https and name the key's fingerprint; the redirect
// listener sends plain HTTP to https; the certificate is reloaded when
// its files change and on SIGHUP, and one that does not load keeps the
// previous in force.
func TestTLSClients(t *testing.T) {
	need(t, "apt-get")
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, ca.pem, 0o644)
	ca.issue(t, 2, certFile, keyFile)
	s := configServer(t, fmt.Sprintf("tls:\n  cert_file: %s\n  key_file: %s\n  redirect_listen: 127.0.0.1:0\n", certFile, keyFile))
	if !strings.HasPrefix(s.url, "https://127.0.0.1:") {
		t.Fatalf("pier serve with TLS serves on %s", s.url)
	}
	s.client = ca.client()
	addr := strings.TrimPrefix(s.url, "https://")

	deb := mkdeb(t, "tls-deb", "1.0", "amd64", "over https")
	rpmPkg := mkrpm(t, "tls-rpm", "", "1.0", "amd64", "over https")
	apkPkg := apkBuild(t, "tls-apk", "x86_64", "over https", nil)
	for tg, p := range map[string][]byte{"5.8/debian/bookworm": deb, "5.8/el/9": rpmPkg, "5.8/alpine/v3.20": apkPkg} {
		if code, r := s.upload(tg, p, "?publish=false"); code != 201 {
			t.Fatalf("upload to %s over https: %d %v", tg, code, r)
		}
		s.publish(tg)
	}

	// Setup snippets: https everywhere, and the fingerprint.
	_, ascKey, _ := s.get("/keys/pier.asc")
	fpr := ""
	if m := regexp.MustCompile(`signing key \((?:generated|using)\): ([0-9A-F]{40})`).FindStringSubmatch(s.logs()); m != nil {
		fpr = m[1]
	}
	for tg, want := range map[string][]string{
		"5.8/debian/bookworm": {"curl -fsSL " + s.url + "/keys/pier.gpg", "URIs: " + s.url + "/deb/5.8/debian", "signing key " + fpr},
		"5.8/el/9":            {"sudo rpm --import " + s.url + "/rpm/5.8/el/9/repodata/repomd.xml.key", "baseurl=" + s.url + "/rpm/5.8/el/9/", fpr},
		"5.8/alpine/v3.20":    {s.url + "/keys/pier-", s.url + "/apk/5.8/alpine/v3.20/main"},
	} {
		_, setup, _ := s.get("/setup/" + tg)
		for _, w := range want {
			if fpr == "" || !strings.Contains(string(setup), w) {
				t.Errorf("setup of %s lacks %q:\n%s", tg, w, setup)
			}
		}
		if strings.Contains(string(setup), "http://") {
			t.Errorf("setup of %s names an http:// URL:\n%s", tg, setup)
		}
	}

	// apt-get over https, trusting the test CA.
	apt := newApt(t, sourceLine(writeKey(t, s, t.TempDir()), s.url, "5.8", "bookworm"))
	f, _ := os.OpenFile(apt.conf, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, "Acquire::https::CaInfo \"%s\";\n", caFile)
	f.Close()
	apt.update()
	if got := apt.download("tls-deb"); sha(got) != sha(deb) {
		t.Error("apt-get over https: the package differs")
	}
	// Without the CA, apt refuses the server.
	plain := newApt(t, sourceLine(writeKey(t, s, t.TempDir()), s.url, "5.8", "bookworm"))
	if out, err := plain.run("update"); err == nil && len(problems(out)) == 0 {
		t.Errorf("apt-get without the CA accepted the certificate:\n%s", out)
	}

	// dnf over https (sslcacert), metadata signature checked.
	if _, err := os.Stat("/usr/bin/dnf"); err == nil || os.Getenv("CI") == "true" {
		repoText := dnfRepo("pier", s.url+"/rpm/5.8/el/9/") + "sslcacert=@CA@\nsslverify=1\n"
		dnf := newDnf(t, "pier", repoText, ascKey)
		caInBox := dnf.sb.write("ca.pem", ca.pem)
		dnf.sb.write("repos/pier.repo", []byte(strings.NewReplacer("@KEY@", dnf.sb.path("key.asc"), "@CA@", caInBox).Replace(repoText)))
		dnf.must("makecache")
		got, out, err := dnf.download("tls-rpm")
		if err != nil || sha(got["tls-rpm-1.0-1.x86_64.rpm"]) != sha(rpmPkg) {
			t.Errorf("dnf over https: %v (%d files)\n%s", err, len(got), out)
		}
	}

	// go-apk over https with the CA in its client's RootCAs.
	keyName, pub := apkServerKey(t, s, "5.8/alpine/v3.20")
	apkInstallOneWith(t, ca.client(), s.url+"/apk/5.8/alpine/v3.20/main", keyName, pub, apkPkg)

	// The redirect listener.
	waitFor(t, 10*time.Second, "the redirect listener", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.redirect != "" })
	s.mu.Lock()
	redirect := s.redirect
	s.mu.Unlock()
	resp, err := ca.client().Get(redirect + "/deb/5.8/debian/dists/bookworm/InRelease?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "https://127.0.0.1:"+strings.Split(addr, ":")[1]+"/deb/5.8/debian/dists/bookworm/InRelease?x=1" {
		t.Errorf("redirect: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Renewal: new files are served without a signal.
	if n := servedSerial(t, ca, addr); n != 2 {
		t.Fatalf("serial %d, want 2", n)
	}
	ca.issue(t, 3, certFile, keyFile)
	waitFor(t, 10*time.Second, "the renewed certificate", func() bool { return servedSerial(t, ca, addr) == 3 })
	// A pair that does not load keeps the previous one, on change and on
	// SIGHUP.
	os.WriteFile(certFile, []byte("not a certificate"), 0o600)
	waitFor(t, 10*time.Second, "the log to say the certificate does not load", func() bool {
		servedSerial(t, ca, addr)
		return strings.Contains(s.logs(), "tls certificate changed but does not load")
	})
	if n := servedSerial(t, ca, addr); n != 3 {
		t.Errorf("after a bad certificate file: serial %d, want 3", n)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the reload to be refused", func() bool { return strings.Contains(s.logs(), "reload refused") })
	if n := servedSerial(t, ca, addr); n != 3 {
		t.Errorf("after a refused reload: serial %d, want 3", n)
	}
	// SIGHUP with good files.
	ca.issue(t, 4, certFile, keyFile)
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the certificate of the reload", func() bool { return servedSerial(t, ca, addr) == 4 })
}
