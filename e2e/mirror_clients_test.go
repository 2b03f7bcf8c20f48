package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierhq/pier/storage/s3"
)

// TestMirrorAllClients publishes a deb, an rpm and an apk target, syncs
// them to a real versitygw bucket, serves the bucket's objects over HTTP
// and has apt-get, dnf and the apk client (go-apk plus the apk-tools
// checks) install from the mirror, read back through the S3 API. Objects carry the Content-Type and
// Cache-Control a CDN needs (checked with HeadObject).
func TestMirrorAllClients(t *testing.T) {
	need(t, "apt-get")
	need(t, "dnf")
	endpoint, access, secret, _ := startVersitygw(t, "pier-all")
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`mirrors:
  - name: bucket
    type: s3
    bucket: pier-all
    endpoint: %s
    path_style: true
    access_key_id: %s
    secret_access_key: %s
    cache_control:
      root: "public, max-age=30"
`, endpoint, access, secret)), 0o600)
	s := startServer(t, "", "PIER_CONFIG="+cfg)
	debPkg := mkdeb(t, "mirror-deb", "1.0", "amd64", "deb")
	rpmPkg := mkrpm(t, "mirror-rpm", "", "1.0", "x86_64", "rpm")
	apkPkg := apkBuild(t, "mirror-apk", "x86_64", "apk", nil)
	for target, b := range map[string][]byte{"5.8/debian/bookworm": debPkg, "5.8/el/9": rpmPkg, "5.8/alpine/v3.20": apkPkg} {
		if code, r := s.upload(target, b, "?publish=false"); code != 201 {
			t.Fatalf("upload to %s: %d %v", target, code, r)
		}
		s.publish(target)
	}
	cmd := exec.Command(pierBin, "sync", "--data", s.data)
	cmd.Env = append(os.Environ(), "PIER_CONFIG="+cfg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pier sync: %v\n%s", err, out)
	}
	cmd = exec.Command(pierBin, "sync", "--verify", "--data", s.data)
	cmd.Env = append(os.Environ(), "PIER_CONFIG="+cfg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pier sync --verify: %v\n%s", err, out)
	}
	// Serve the bucket over HTTP by reading every object back through the
	// S3 API (GetObject via Pier's storage/s3), as a CDN in front of it would.
	bucketCfg := s3.Config{Bucket: "pier-all", Endpoint: endpoint, PathStyle: true, AccessKeyID: access, SecretAccessKey: secret}
	bucketCfg.Defaults()
	bucket, err := s3.New(context.Background(), bucketCfg)
	if err != nil {
		t.Fatal(err)
	}
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/")
		obj, err := bucket.Open(r.Context(), key)
		if errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer obj.Close()
		http.ServeContent(w, r, key, time.Time{}, obj)
	}))
	defer mirror.Close()

	// apt-get.
	apt := newApt(t, sourceLine(writeKey(t, s, t.TempDir()), mirror.URL, "5.8", "bookworm"))
	apt.update()
	if got := apt.download("mirror-deb"); !bytes.Equal(got, debPkg) {
		t.Error("apt-get: mirror-deb differs")
	}

	// dnf, with the repository signature checked.
	key, _ := rpmKeyring(t, s)
	dnf := newDnf(t, "pier", dnfRepo("pier", mirror.URL+"/rpm/5.8/el/9/"), key)
	dnf.must("makecache")
	files, out, err := dnf.download("mirror-rpm")
	if err != nil || !bytes.Equal(files["mirror-rpm-1.0-1.x86_64.rpm"], rpmPkg) {
		t.Errorf("dnf from the mirror: %v\n%s", err, out)
	}

	// apk: go-apk plus the apk-tools checks.
	keyName, pubPEM := apkServerKey(t, s, "5.8/alpine/v3.20")
	apkInstallOne(t, mirror.URL+"/apk/5.8/v3.20/main", keyName, pubPEM, apkPkg)

	// Object headers for a CDN in front of the bucket.
	cl := awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, "")})
	for key, want := range map[string][2]string{
		"deb/5.8/dists/bookworm/InRelease":                  {"text/plain; charset=utf-8", "max-age=30"},
		"rpm/5.8/el/9/repodata/repomd.xml":                  {"application/xml", "max-age=30"},
		"deb/5.8/dists/bookworm/main/binary-amd64/Packages": {"text/plain; charset=utf-8", "no-cache"},
		"rpm/5.8/el/9/x86_64/mirror-rpm-1.0-1.x86_64.rpm":   {"application/x-rpm", "immutable"},
	} {
		h, err := cl.HeadObject(context.Background(), &awss3.HeadObjectInput{Bucket: aws.String("pier-all"), Key: aws.String(key)})
		if err != nil {
			t.Errorf("HeadObject %s: %v", key, err)
			continue
		}
		if aws.ToString(h.ContentType) != want[0] || !strings.Contains(aws.ToString(h.CacheControl), want[1]) || h.Metadata["sha256"] == "" {
			t.Errorf("%s: Content-Type %q Cache-Control %q metadata %v", key, aws.ToString(h.ContentType), aws.ToString(h.CacheControl), h.Metadata)
		}
	}
}
