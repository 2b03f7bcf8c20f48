package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/storage"
)

// Thresholds of pier doctor.
const (
	keyWarnBefore   = 30 * 24 * time.Hour // a signing key that expires sooner is a problem
	diskFailBelow   = 256 << 20           // free bytes under which uploads soon fail
	diskWarnBelow   = 2 << 30             // free bytes under which to act
	diskWarnPercent = 10                  // free share under which to act
	pendingWarn     = time.Minute         // a publish owed for longer: is pier serve running?
	resignLate      = time.Hour           // a re-sign overdue by more: is pier serve running?
	mirrorTimeout   = 10 * time.Second
)

// clockFloor is a time before which the clock is surely wrong (a machine
// without a real-time clock that booted in 1970).
var clockFloor = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// doctor collects the findings of one run.
type doctor struct {
	c        *cli
	problems int
}

func (d *doctor) ok(format string, args ...any) {
	fmt.Fprintf(d.c.stdout, "ok    "+format+"\n", args...)
}

func (d *doctor) warn(format string, args ...any) {
	d.problems++
	fmt.Fprintf(d.c.stdout, "WARN  "+format+"\n", args...)
}

func (d *doctor) fail(format string, args ...any) {
	d.problems++
	fmt.Fprintf(d.c.stdout, "FAIL  "+format+"\n", args...)
}

func (c *cli) doctorCmd() *cobra.Command {
	var deep bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "inspect a deployment: config, data directory, keys, disk, mirrors, every target, the clock",
		Long: `Inspect a deployment and list what is wrong; the exit status is 1 when anything is (FAIL or WARN),
so it fits a monitoring check. It reads the config and the data directory as the other commands do
and changes nothing (it writes and removes one probe file in the data directory).

Checks: the config parses; the data directory exists and is writable; the blob store takes a write;
every OpenPGP signing key can sign now and for the next 30 days and the apk key loads; free disk
space (FAIL under 256 MiB, WARN under 2 GiB or 10%); every mirror is reachable (a directory
exists and is writable, a bucket answers); every target's current generation is servable (its roots
verify with the current keys, every file they name is there with its size and hashes; --deep also
hashes every package); no publish is failing or owed for more than a minute; the clock is not before
any generation it made, and no Release has passed its Valid-Until.`,
		Args: args(0, 0, "no arguments"),
	}
	c.dataFlags(cmd)
	cmd.Flags().BoolVar(&deep, "deep", false, "also read every package file of every current generation and check its sha256")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		d := &doctor{c: c}
		d.run(cmd.Context(), cmd, deep)
		if d.problems > 0 {
			fmt.Fprintf(c.stderr, "pier doctor: %d problem(s)\n", d.problems)
			return errSilent
		}
		fmt.Fprintln(c.stderr, "pier doctor: no problems found")
		return nil
	}
	return cmd
}

func (d *doctor) run(ctx context.Context, cmd *cobra.Command, deep bool) {
	c := d.c
	cfg, w, err := c.load(cmd)
	if err != nil {
		d.fail("config: %v", err)
		return
	}
	d.ok("config: %s", w)
	if err := requireDataDir(cfg, w); err != nil {
		d.fail("%v", err)
		return
	}
	d.checkWritable(cfg.DataDir)
	d.checkDisk(cfg.DataDir)
	a, err := open(ctx, cfg, newLogger(c.stderr, "error"), false)
	if err != nil {
		d.fail("open the data directory: %v", err)
		return
	}
	defer a.Close()
	d.checkBlobStore(ctx, a)
	d.checkKeys(cfg, a)
	d.checkMirrors(ctx, a)
	d.checkTargets(ctx, a, deep)
}

// checkWritable writes and removes a probe file in dir.
func (d *doctor) checkWritable(dir string) {
	f, err := os.CreateTemp(dir, ".pier-doctor-*")
	if err != nil {
		d.fail("data directory %s is not writable: %v", dir, err)
		return
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	d.ok("data directory %s is writable", dir)
}

// checkDisk reports the free space of the filesystem holding dir.
func (d *doctor) checkDisk(dir string) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		d.fail("disk space of %s: %v", dir, err)
		return
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	total := int64(st.Blocks) * int64(st.Bsize)
	pct := 100.0
	if total > 0 {
		pct = float64(free) * 100 / float64(total)
	}
	msg := fmt.Sprintf("disk: %s free of %s (%.1f%%) on the filesystem of %s", human(free), human(total), pct, dir)
	switch {
	case free < diskFailBelow:
		d.fail("%s: uploads and publishes will fail", msg)
	case free < diskWarnBelow || pct < diskWarnPercent:
		d.warn("%s", msg)
	default:
		d.ok("%s", msg)
	}
}

// human writes a byte count with a binary unit.
func human(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

// checkBlobStore writes and deletes a probe blob (what /readyz does).
func (d *doctor) checkBlobStore(ctx context.Context, a *app) {
	key := fmt.Sprintf("readyz/doctor-%d", os.Getpid())
	if err := a.backend.Put(ctx, key, strings.NewReader("ok"), 2, storage.PutOptions{}); err != nil {
		d.fail("blob store (%s) is not writable: %v", a.cfg.Storage.Type, err)
		return
	}
	if err := a.backend.Delete(ctx, key); err != nil {
		d.fail("blob store (%s): %v", a.cfg.Storage.Type, err)
		return
	}
	d.ok("blob store (%s) takes a write", a.cfg.Storage.Type)
}

// checkKeys reports every signing key that cannot sign now or will not in
// keyWarnBefore, and a ring the published roots were not signed with.
func (d *doctor) checkKeys(cfg *Config, a *app) {
	ks := a.keys.set()
	now := time.Now()
	for _, e := range ks.pgp.Entities() {
		fpr := fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
		switch _, okNow := e.SigningKey(now); {
		case !okNow:
			d.fail("signing key %s cannot sign: expired or revoked (pier keys generate a successor, then retire it)", fpr)
		default:
			if _, okLater := e.SigningKey(now.Add(keyWarnBefore)); !okLater {
				d.warn("signing key %s expires within %d days: generate a successor (pier keys generate), publish it to "+
					"your users, then retire this one", fpr, int(keyWarnBefore.Hours()/24))
			} else {
				d.ok("signing key %s can sign", fpr)
			}
		}
	}
	d.ok("apk signing key %s loads", ks.apk.KeyName())
	if old, err := readRingState(cfg); err != nil {
		d.fail("%v", err)
	} else if old != nil && !slices.Equal(old, ks.pgp.Fingerprints()) {
		d.warn("the published roots are signed with %s, the key ring is %s: pier serve re-signs every target when it "+
			"starts or reloads (systemctl reload pier)", strings.Join(old, ","), strings.Join(ks.pgp.Fingerprints(), ","))
	}
}

// checkMirrors checks that each mirror's destination answers: a directory
// exists and is writable, a bucket answers HEAD.
func (d *doctor) checkMirrors(ctx context.Context, a *app) {
	for _, mc := range a.cfg.Mirrors {
		switch mc.Type {
		case "dir":
			if err := unix.Access(mc.Path, unix.W_OK); err != nil {
				d.fail("mirror %s: directory %s is not writable: %v", mc.Name, mc.Path, err)
				continue
			}
			d.ok("mirror %s: directory %s is writable", mc.Name, mc.Path)
		case "s3":
			m, err := openMirror(ctx, a.cfg, mc, a.cat)
			if err != nil {
				d.fail("mirror %s: %v", mc.Name, err)
				continue
			}
			ch, ok := m.Dest.(interface{ Check(context.Context) error })
			if !ok {
				d.ok("mirror %s: configured", mc.Name)
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, mirrorTimeout)
			err = ch.Check(cctx)
			cancel()
			if err != nil {
				d.fail("mirror %s: bucket %s does not answer: %v", mc.Name, mc.S3.Bucket, err)
				continue
			}
			d.ok("mirror %s: bucket %s answers", mc.Name, mc.S3.Bucket)
		}
	}
}

// checkTargets verifies every target's current generation as clients
// would, and its publish state and expiry.
func (d *doctor) checkTargets(ctx context.Context, a *app, deep bool) {
	ts, err := a.svc.Targets(ctx)
	if err != nil {
		d.fail("list targets: %v", err)
		return
	}
	ts = repo.LiveTargets(ts)
	now := time.Now()
	var newest time.Time
	for _, ti := range ts {
		switch {
		case ti.PublishFailures > 0:
			since := ""
			if ti.FailingSince != nil {
				since = " since " + ti.FailingSince.Format(time.RFC3339)
			}
			d.fail("target %s: publish failing%s (%d attempts): %s", ti.Target, since, ti.PublishFailures, ti.PublishError)
		case ti.Pending() && ti.Current != nil && now.Sub(ti.Current.Created) > pendingWarn:
			d.warn("target %s: a publish is owed (revision %d, generation %d has %d) since before %s: is pier serve running?",
				ti.Target, ti.Revision, ti.Current.Seq, ti.Current.Revision, ti.Current.Created.Format(time.RFC3339))
		}
		if ti.Current == nil {
			continue
		}
		if ti.Current.Created.After(newest) {
			newest = ti.Current.Created
		}
		gen, err := a.svc.VerifyTarget(ctx, ti.Target, deep)
		if err != nil {
			d.fail("target %s: generation %d is not servable: %v", ti.Target, ti.Current.Seq, err)
			continue
		}
		d.ok("target %s: generation %d servable (%d files, %d packages)", ti.Target, gen.Seq, gen.Files, gen.Packages)
		d.checkExpiry(ctx, a, &ti, now)
	}
	if len(ts) == 0 {
		d.ok("no targets yet")
	}
	switch {
	case now.Before(clockFloor):
		d.fail("clock: it is %s here, before %s: set the clock (NTP)", now.Format(time.RFC3339), clockFloor.Format(time.DateOnly))
	case !newest.IsZero() && now.Add(time.Minute).Before(newest):
		d.fail("clock: it is %s here, before the newest generation (%s): the clock went back; clients refuse a Release "+
			"dated in the future", now.Format(time.RFC3339), newest.Format(time.RFC3339))
	default:
		d.ok("clock: %s, after every generation", now.UTC().Format(time.RFC3339))
	}
}

// checkExpiry reports a root past its Valid-Until, or one that pier
// serve should have re-signed a while ago.
func (d *doctor) checkExpiry(ctx context.Context, a *app, ti *repo.TargetInfo, now time.Time) {
	spec, err := a.svc.Spec(ti.Distro)
	if err != nil {
		return
	}
	ex, ok := spec.Format.(repo.Expirer)
	if !ok {
		return
	}
	files, err := a.svc.Manifest(ctx, ti.Current)
	if err != nil {
		d.fail("target %s: %v", ti.Target, err)
		return
	}
	e, ok, err := ex.Expiry(ctx, ti.Target, files, func(f repo.File) ([]byte, error) { return a.svc.Blobs().ReadAll(ctx, f.SHA256) })
	switch {
	case err != nil:
		d.fail("target %s: read Valid-Until: %v", ti.Target, err)
	case !ok:
	case !now.Before(e.ValidUntil):
		d.fail("target %s: its roots expired at %s (Valid-Until): clients refuse it until pier serve re-signs it", ti.Target,
			e.ValidUntil.Format(time.RFC3339))
	case now.Sub(e.ResignAt) > resignLate:
		d.warn("target %s: due for re-signing since %s (Valid-Until %s): is pier serve running?", ti.Target,
			e.ResignAt.Format(time.RFC3339), e.ValidUntil.Format(time.RFC3339))
	}
}
