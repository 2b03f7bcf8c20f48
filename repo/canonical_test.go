package repo_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
)

// served returns the bytes served at path, failing the test when nothing
// is.
func servedAt(t *testing.T, svc *repo.Service, path string) ([]byte, repo.Served) {
	t.Helper()
	f, ok := svc.Lookup(path)
	if !ok {
		t.Fatalf("%s is not served", path)
	}
	b, err := svc.Blobs().ReadAll(context.Background(), f.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return b, f
}

// TestDistrosShareReleaseName: two distros with the same release name in
// one stream each publish under their own canonical root, and the
// distro-less alias keeps serving the target that claimed it first,
// whatever the other target publishes later (the bug: uploading to
// 5.8/ubuntu/bookworm made deb/5.8/dists/bookworm serve Ubuntu's index).
func TestDistrosShareReleaseName(t *testing.T) {
	svc := newService(t, repo.Options{})
	ctx := context.Background()
	debian := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	ubuntu := repo.Target{Stream: "5.8", Distro: "ubuntu", Release: "bookworm"}
	ingestTo(t, svc, debian, "from-debian")
	if _, err := svc.Publish(ctx, debian); err != nil {
		t.Fatal(err)
	}
	aliasBefore, _ := servedAt(t, svc, "deb/5.8/dists/bookworm/InRelease")
	for round := range 2 {
		ingestTo(t, svc, ubuntu, "from-ubuntu"+strings.Repeat("x", round))
		if _, err := svc.Publish(ctx, ubuntu); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		path, has, hasNot string
		owner             repo.Target
	}{
		{"deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages", "from-debian", "from-ubuntu", debian},
		{"deb/5.8/ubuntu/dists/bookworm/main/binary-amd64/Packages", "from-ubuntu", "from-debian", ubuntu},
		{"deb/5.8/dists/bookworm/main/binary-amd64/Packages", "from-debian", "from-ubuntu", debian},
	} {
		b, f := servedAt(t, svc, c.path)
		if !bytes.Contains(b, []byte("Package: "+c.has)) || bytes.Contains(b, []byte("Package: "+c.hasNot)) {
			t.Errorf("%s lists the wrong packages:\n%s", c.path, b)
		}
		if !slices.Equal(f.Targets, []repo.Target{c.owner}) {
			t.Errorf("%s is served for %v, want only %v", c.path, f.Targets, c.owner)
		}
	}
	aliasAfter, _ := servedAt(t, svc, "deb/5.8/dists/bookworm/InRelease")
	if !bytes.Equal(aliasBefore, aliasAfter) {
		t.Errorf("the alias InRelease changed when another target published")
	}
	// The alias pool holds debian's packages, and only debian owns it.
	pkg := ingestTo(t, svc, debian, "second")
	if _, err := svc.Publish(ctx, debian); err != nil {
		t.Fatal(err)
	}
	canon := pkg.Path
	if !strings.HasPrefix(canon, "deb/5.8/debian/pool/") {
		t.Fatalf("package path %s is not under the canonical root", canon)
	}
	alias := "deb/5.8/" + strings.TrimPrefix(canon, "deb/5.8/debian/")
	if _, f := servedAt(t, svc, alias); f.SHA256 != pkg.Package.SHA256 {
		t.Errorf("alias pool file %s has other bytes", alias)
	}
	for _, c := range []struct {
		path string
		want []repo.Target
	}{
		{"deb/5.8/dists/bookworm/no-such-file", []repo.Target{debian}},
		{"deb/5.8/ubuntu/dists/bookworm/no-such-file", []repo.Target{ubuntu}},
		{"deb/5.8/ubuntu/pool/main/x", []repo.Target{ubuntu}},
		{"deb/5.8/pool/main/x", []repo.Target{debian}},
		{"deb/5.8/dists/noble/InRelease", nil},
		{"rpm/5.8/el/9/repodata/repomd.xml", nil},
	} {
		if got := svc.Owners(c.path); !slices.Equal(got, c.want) {
			t.Errorf("Owners(%s) = %v, want %v", c.path, got, c.want)
		}
	}
}

// TestAliasClaimedByOldestPublished: on a catalog where nobody holds an
// alias yet (written before claims were recorded), the oldest target that
// has a generation gets it, even when a newer one publishes first.
func TestAliasClaimedByOldestPublished(t *testing.T) {
	svc := newService(t, repo.Options{})
	ctx := context.Background()
	ubuntu := repo.Target{Stream: "9", Distro: "ubuntu", Release: "x"}
	debian := repo.Target{Stream: "9", Distro: "debian", Release: "x"}
	ingestTo(t, svc, ubuntu, "uu")
	ingestTo(t, svc, debian, "dd")
	if _, err := svc.Publish(ctx, debian); err != nil {
		t.Fatal(err)
	}
	b, _ := servedAt(t, svc, "deb/9/dists/x/main/binary-amd64/Packages")
	if !bytes.Contains(b, []byte("Package: dd\n")) {
		t.Fatalf("the first publisher did not get the free alias:\n%s", b)
	}
	if _, err := svc.Publish(ctx, ubuntu); err != nil {
		t.Fatal(err)
	}
	b, _ = servedAt(t, svc, "deb/9/dists/x/main/binary-amd64/Packages")
	if !bytes.Contains(b, []byte("Package: dd\n")) {
		t.Errorf("the alias moved to another target:\n%s", b)
	}
}

// failVerify is the deb format with a read-back check that fails while
// fail is set.
type failVerify struct {
	repo.Format
	fail *bool
}

func (f failVerify) Verify(ctx context.Context, in *repo.VerifyInput) error {
	if *f.fail {
		return errors.New("InRelease: signature does not verify")
	}
	if v, ok := f.Format.(repo.Verifier); ok {
		return v.Verify(ctx, in)
	}
	return nil
}

func (f failVerify) Prefixes(t repo.Target) []string        { return f.Format.(repo.Layout).Prefixes(t) }
func (f failVerify) Alias(t repo.Target) (repo.Alias, bool) { return f.Format.(repo.Layout).Alias(t) }

// TestVerifyFailureKeepsPreviousGeneration: a generation that fails the
// read-back check never goes live; the publish fails with the reason, the
// target says failed, and the next good publish clears it.
func TestVerifyFailureKeepsPreviousGeneration(t *testing.T) {
	fail := false
	svc := newServiceWith(t, repo.Options{}, func(c repo.Catalog) repo.Catalog { return c },
		func(f repo.Format) repo.Format { return failVerify{f, &fail} })
	ctx := context.Background()
	ingest(t, svc, "one")
	g1, err := svc.Publish(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := servedAt(t, svc, "deb/5.8/debian/dists/bookworm/InRelease")
	fail = true
	ingest(t, svc, "two")
	if _, err := svc.Publish(ctx, target); !errors.Is(err, repo.ErrVerify) || !strings.Contains(err.Error(), "signature does not verify") {
		t.Fatalf("publish with a failing check: %v, want ErrVerify with the reason", err)
	}
	after, _ := servedAt(t, svc, "deb/5.8/debian/dists/bookworm/InRelease")
	if !bytes.Equal(before, after) {
		t.Errorf("a generation that failed verification went live")
	}
	ti, err := svc.FindTarget(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if ti.Current.Seq != g1.Seq || ti.PublishState() != repo.StateFailed || !strings.Contains(ti.PublishError, "signature") {
		t.Errorf("after a failed publish: generation %d, state %s, error %q", ti.Current.Seq, ti.PublishState(), ti.PublishError)
	}
	fail = false
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	ti, _ = svc.FindTarget(ctx, target)
	if ti.PublishState() != repo.StatePublished || ti.PublishError != "" || ti.FailingSince != nil {
		t.Errorf("after a good publish: state %s, error %q, failing since %v", ti.PublishState(), ti.PublishError, ti.FailingSince)
	}
}
