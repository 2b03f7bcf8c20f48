package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/pierhq/pier/signing"
)

// TestDoctorKeys: a signing key that expires within 30 days is a WARN
// naming it, one that can sign for longer is ok.
func TestDoctorKeys(t *testing.T) {
	mk := func(lifetime time.Duration) *openpgp.Entity {
		cfg := &packet.Config{RSABits: 2048, KeyLifetimeSecs: uint32(lifetime.Seconds()), Time: time.Now}
		e, err := openpgp.NewEntity("Pier Test", "", "", cfg)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	soon, later := mk(10*24*time.Hour), mk(0)
	pgp, err := signing.New([]*openpgp.Entity{later, soon}, signing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	apkKey, _, err := signing.LoadOrCreateRSA(filepath.Join(dir, "keys"), "", 2048)
	if err != nil {
		t.Fatal(err)
	}
	a := &app{keys: &signerRef{}}
	a.keys.cur.Store(&keySet{pgp: pgp, apk: apkKey})
	var out bytes.Buffer
	d := &doctor{c: &cli{stdout: &out}}
	d.checkKeys(&Config{DataDir: dir}, a)
	soonFpr := pgp.Fingerprints()[1]
	if d.problems != 1 || !strings.Contains(out.String(), "WARN  signing key "+soonFpr+" expires within 30 days") ||
		!strings.Contains(out.String(), "ok    signing key "+pgp.Fingerprints()[0]+" can sign") {
		t.Errorf("%d problems:\n%s", d.problems, out.String())
	}
}

// TestDoctorHuman checks the byte counts the disk line prints.
func TestDoctorHuman(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 3 << 30: "3.0 GiB"} {
		if got := human(n); got != want {
			t.Errorf("human(%d) = %q, want %q", n, got, want)
		}
	}
}
