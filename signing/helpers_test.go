package signing_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/pierhq/pier/signing"
)

// testTime is the fixed clock of most tests: in the past, so that verifiers
// (sqv checks --not-after now) accept the signatures.
var testTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testTime }

// testEntities generates three 2048-bit keys once per test binary: A and B
// for signing (B for rotation tests), C as the "wrong" key.
var testEntities = sync.OnceValues(func() ([]*openpgp.Entity, error) {
	var out []*openpgp.Entity
	for _, n := range []string{"A", "B", "C"} {
		e, err := signing.GenerateRSA("Pier Test "+n, strings.ToLower(n)+"@example.com", 2048, testTime.Add(-time.Hour))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
})

// entities returns the shared test keys A, B and C.
func entities(t *testing.T) (a, b, c *openpgp.Entity) {
	t.Helper()
	es, err := testEntities()
	if err != nil {
		t.Fatalf("generate test keys: %v", err)
	}
	return es[0], es[1], es[2]
}

// newSigner returns a signer with a fixed clock over the given entities.
func newSigner(t *testing.T, es ...*openpgp.Entity) *signing.OpenPGP {
	t.Helper()
	s, err := signing.New(es, signing.Options{Now: fixedClock})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// requireTool returns the path of an external verifier. A missing tool skips
// the check locally but fails it when CI=true.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (required when CI=true)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// writeTemp writes data to a new file in dir and returns its path.
func writeTemp(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// gpgv runs gpgv with keyring (binary, as `gpg --export` writes) and the
// given file arguments, and returns its status-fd output and exit error.
func gpgv(t *testing.T, keyring []byte, files ...string) (string, error) {
	t.Helper()
	bin := requireTool(t, "gpgv")
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	kr := writeTemp(t, dir, "keyring.gpg", keyring)
	args := append([]string{"--homedir", home, "--status-fd", "1", "--keyring", kr}, files...)
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("gpgv: %w\nstatus:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return stdout.String(), err
}

// sqv runs Sequoia's sqv (the verifier of apt >= 2.9) on a detached
// signature with keyring (armored or binary).
func sqv(t *testing.T, keyring, sig, data []byte) error {
	t.Helper()
	bin := requireTool(t, "sqv")
	dir := t.TempDir()
	kr := writeTemp(t, dir, "keyring.asc", keyring)
	sf := writeTemp(t, dir, "data.sig", sig)
	df := writeTemp(t, dir, "data", data)
	cmd := exec.Command(bin, "--keyring", kr, sf, df)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("sqv: %w: %s", err, out)
	}
	return nil
}

// aptSplit splits a clear-signed file the way apt's SplitClearSignedFile
// (apt-pkg/contrib/gpgv.cc) does and with its strictness: the first line must
// open the signed message, armor headers run to an empty line, a body line
// starting with "-" must be "- " escaped, and nothing, not even an empty
// line, may follow the "-----END PGP SIGNATURE-----" line. It returns the
// signed text (lines joined by "\n", no final newline) and the armored
// signature.
func aptSplit(data []byte) (content, sig []byte, err error) {
	text := string(data)
	text = strings.TrimSuffix(text, "\n")
	lines := strings.Split(text, "\n")
	if len(lines) == 0 || lines[0] != "-----BEGIN PGP SIGNED MESSAGE-----" {
		return nil, nil, errors.New("first line is not BEGIN PGP SIGNED MESSAGE")
	}
	i := 1
	for ; i < len(lines) && lines[i] != ""; i++ {
		if !strings.Contains(lines[i], ": ") {
			return nil, nil, fmt.Errorf("bad armor header %q", lines[i])
		}
	}
	if i == len(lines) {
		return nil, nil, errors.New("no empty line after armor headers")
	}
	i++
	var body []string
	for ; i < len(lines); i++ {
		l := lines[i]
		if l == "-----BEGIN PGP SIGNATURE-----" {
			break
		}
		if strings.HasPrefix(l, "- ") {
			body = append(body, l[2:])
			continue
		}
		if strings.HasPrefix(l, "-") {
			return nil, nil, fmt.Errorf("line %d starts with an unescaped dash: %q", i+1, l)
		}
		body = append(body, l)
	}
	if i == len(lines) {
		return nil, nil, errors.New("no signature block")
	}
	var sigLines []string
	for ; i < len(lines); i++ {
		sigLines = append(sigLines, lines[i])
		if lines[i] == "-----END PGP SIGNATURE-----" {
			break
		}
	}
	if i == len(lines) {
		return nil, nil, errors.New("signature block not closed")
	}
	if i != len(lines)-1 {
		return nil, nil, errors.New("clearsigned file contains unsigned lines after the signature")
	}
	return []byte(strings.Join(body, "\n")), []byte(strings.Join(sigLines, "\n") + "\n"), nil
}
