package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rsa"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/pgtest"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog/postgres"
)

// balancer spreads requests over the nodes that are up, one request to
// the next node (round robin), as a load balancer without stickiness does:
// one apt-get update reads InRelease from one node and the indexes it
// names from others.
type balancer struct {
	mu       sync.RWMutex
	nodes    []*server
	up       []bool
	next     uint64
	inflight []atomic.Int64
	spread   []atomic.Int64 // requests per node
	srv      *httptest.Server
}

type nodeKey struct{}

func newBalancer(t *testing.T, nodes []*server) *balancer {
	b := &balancer{nodes: nodes, up: make([]bool, len(nodes)), inflight: make([]atomic.Int64, len(nodes)),
		spread: make([]atomic.Int64, len(nodes))}
	for i := range b.up {
		b.up[i] = true
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		u, _ := url.Parse(b.nodes[r.In.Context().Value(nodeKey{}).(int)].url)
		r.SetURL(u)
	}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := b.pick(r)
		defer b.inflight[i].Add(-1)
		b.spread[i].Add(1)
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nodeKey{}, i)))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// pick returns the node for r, counting the request in flight to it: a
// root with a detached signature (repomd.xml and .asc, Release and
// Release.gpg) goes to one node per client address, the first up from
// the address's hash (as deploy/cluster/nginx.conf sends them: the node
// that served a client a root gives it that root's signature across a
// publish), everything else to the next node that is up.
func (b *balancer) pick(r *http.Request) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p := r.URL.Path; strings.HasSuffix(p, "/repomd.xml") || strings.HasSuffix(p, "/repomd.xml.asc") ||
		strings.HasSuffix(p, "/Release") || strings.HasSuffix(p, "/Release.gpg") {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		h := fnv.New32a()
		h.Write([]byte(host))
		for k := range len(b.nodes) {
			if i := (int(h.Sum32()%uint32(len(b.nodes))) + k) % len(b.nodes); b.up[i] {
				b.inflight[i].Add(1)
				return i
			}
		}
	}
	for {
		b.next++
		i := int(b.next % uint64(len(b.nodes)))
		if b.up[i] {
			b.inflight[i].Add(1)
			return i
		}
	}
}

// drain takes node i out of the rotation and waits until no request to
// it is in flight.
func (b *balancer) drain(t *testing.T, i int) {
	b.mu.Lock()
	b.up[i] = false
	b.mu.Unlock()
	waitFor(t, 60*time.Second, "requests to the drained node", func() bool { return b.inflight[i].Load() == 0 })
}

// restore puts node i back into the rotation.
func (b *balancer) restore(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.up[i] = true
}

// TestCluster is the proof of issue #16: three pier serve nodes sharing a
// real PostgreSQL (catalog, locks, keys) and a real S3 server (versitygw:
// blobs and index files). 300 packages (deb, rpm, apk) are uploaded
// concurrently through all nodes by 8 clients while apt-get and dnf read
// through a round-robin balancer (roots with a detached signature by
// client, as deploy/cluster/nginx.conf); one node is killed with SIGKILL midway
// and restarted. Then: apt-get and dnf saw no hash mismatch and no
// signature failure, every upload that got a 2xx is in the final indexes,
// no two publishes of a target ran at once and generation numbers
// strictly increase per target (from the publish log), and the uploads
// coalesced into far fewer publishes.
func TestCluster(t *testing.T) {
	need(t, "apt-get")
	need(t, "dnf")
	pg := pgtest.Start(t)
	dsn := pg.NewDatabase(t)
	endpoint, access, secret, _ := startVersitygw(t, "pier-cluster")
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`catalog:
  type: postgres
storage:
  type: s3
  s3:
    bucket: pier-cluster
    prefix: blobs/
    endpoint: %s
    path_style: true
    access_key_id: %s
    secret_access_key: %s
`, endpoint, access, secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(i int) []string {
		return []string{"PIER_CONFIG=" + cfg, "PIER_DATABASE_URL=" + dsn, "PIER_KEY_PASSPHRASE=cluster-secret",
			fmt.Sprintf("PIER_NODE_NAME=node%d", i)}
	}
	var nodes []*server
	for i := range 3 {
		nodes = append(nodes, startServer(t, "", env(i)...))
	}
	// Every node signs with the cluster's key.
	_, key0, _ := nodes[0].get("/keys/pier.asc")
	for i, n := range nodes[1:] {
		if _, k, _ := n.get("/keys/pier.asc"); !bytes.Equal(k, key0) {
			t.Fatalf("node %d serves another signing key than node 0", i+1)
		}
	}
	lb := newBalancer(t, nodes)
	front := &server{t: t, url: lb.srv.URL}

	const (
		debT, rpmT, apkT = "5.8/debian/bookworm", "5.8/el/9", "5.8/alpine/v3.20"
		perFormat        = 100
	)
	type upload struct {
		target, name string
		body         []byte
	}
	var uploads []upload
	for i := range perFormat {
		uploads = append(uploads,
			upload{debT, fmt.Sprintf("cl-deb-%03d", i), mkdeb(t, fmt.Sprintf("cl-deb-%03d", i), "1.0", "amd64", fmt.Sprint("deb ", i))},
			upload{rpmT, fmt.Sprintf("cl-rpm-%03d", i), mkrpm(t, fmt.Sprintf("cl-rpm-%03d", i), "", "1.0", "amd64", fmt.Sprint("rpm ", i))},
			upload{apkT, fmt.Sprintf("cl-apk-%03d", i), apkBuild(t, fmt.Sprintf("cl-apk-%03d", i), "x86_64", fmt.Sprint("apk ", i), nil)})
	}

	// Seed each target so that the readers have something to read.
	for _, u := range []upload{uploads[0], uploads[1], uploads[2]} {
		if code, r := nodes[0].upload(u.target, u.body, ""); code != 201 {
			t.Fatalf("seed %s: %d %v", u.name, code, r)
		}
		front.publish(u.target)
	}

	// Readers: apt-get and dnf through the balancer, until the uploads end.
	keyDir := t.TempDir()
	apt := newApt(t, sourceLine(writeKey(t, front, keyDir), lb.srv.URL, "5.8", "bookworm"))
	dnf := newDnf(t, "pier", dnfRepo("pier", lb.srv.URL+"/rpm/5.8/el/9/"), key0)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	var aptRuns, dnfRuns atomic.Int64
	readerErrs := make(chan string, 100)
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, err := apt.run("update")
			if p := problems(out); err != nil || len(p) > 0 {
				readerErrs <- fmt.Sprintf("apt-get update: %v %v\n%s", err, p, out)
				return
			}
			aptRuns.Add(1)
		}
	})
	// dnf reads repomd.xml and repomd.xml.asc in two requests: a publish
	// between them must not fail it (the balancer sends both to one node,
	// which gives it the signature of the repomd.xml it holds).
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, err := dnf.run("makecache")
			if err != nil {
				readerErrs <- fmt.Sprintf("dnf makecache: %v\n%s", err, out)
				return
			}
			dnfRuns.Add(1)
		}
	})

	// Writers: 8 clients, each package to the next node in turn; a
	// connection error (the killed node) is retried on another node, as
	// a client behind a balancer would see it.
	work := make(chan upload)
	var acked sync.Map // name -> target
	var sent, failed atomic.Int64
	var writers sync.WaitGroup
	writerErrs := make(chan string, len(uploads))
	for c := range 8 {
		writers.Go(func() {
			n := c
			for u := range work {
				for attempt := 0; ; attempt++ {
					n = (n + 1) % len(nodes)
					code, body, err := clusterUpload(nodes[n].url, u.target, u.body)
					if err == nil && (code == 201 || code == 200) {
						acked.Store(u.name, u.target)
						break
					}
					failed.Add(1)
					if attempt == 20 {
						writerErrs <- fmt.Sprintf("upload %s: %d %s %v", u.name, code, body, err)
						break
					}
				}
				sent.Add(1)
			}
		})
	}
	killed := 1
	for i, u := range uploads[3:] {
		if i == len(uploads)/2 {
			// Midway: take node 1 out of the balancer, kill it with
			// SIGKILL, start it again on its port and data directory.
			lb.drain(t, killed)
			nodes[killed].kill()
			t.Logf("killed node %d after %d uploads", killed, sent.Load())
			nodes[killed].start()
			lb.restore(killed)
		}
		work <- u
	}
	close(work)
	writers.Wait()
	close(writerErrs)
	for e := range writerErrs {
		t.Error(e)
	}

	// Every target settles: nothing pending on any node's view of the
	// catalog (the dead node's scheduled publishes are the reconciler's).
	waitFor(t, 90*time.Second, "every target published", func() bool {
		code, body := front.do("GET", "/api/v1/targets", nil)
		return code == 200 && !bytes.Contains(body, []byte(`"publish_state":"pending"`)) &&
			!bytes.Contains(body, []byte(`"publish_state":"failed"`))
	})
	// One more reader round each after the last publish.
	close(stop)
	readers.Wait()
	close(readerErrs)
	for e := range readerErrs {
		t.Error(e)
	}
	if out, err := apt.run("update"); err != nil || len(problems(out)) > 0 {
		t.Errorf("final apt-get update: %v\n%s", err, out)
	}
	if out, err := dnf.run("makecache"); err != nil {
		t.Errorf("final dnf makecache: %v\n%s", err, out)
	}

	// Every acknowledged upload is in its target's index (read through
	// the balancer, so from every node in turn).
	debIndex := string(getOK(t, front, "/deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages"))
	rpmIndex := clusterPrimary(t, front, "/rpm/5.8/el/9")
	apkIndex := apkIndexText(t, front, "/apk/5.8/alpine/v3.20/main/x86_64/APKINDEX.tar.gz")
	count := 0
	acked.Range(func(k, v any) bool {
		name, target := k.(string), v.(string)
		count++
		var ok bool
		switch target {
		case debT:
			ok = strings.Contains(debIndex, "Package: "+name+"\n")
		case rpmT:
			ok = strings.Contains(rpmIndex, "<name>"+name+"</name>")
		case apkT:
			ok = strings.Contains(apkIndex, "P:"+name+"\n")
		}
		if !ok {
			t.Errorf("%s (%s) was acknowledged but is not in the final index", name, target)
		}
		return true
	})
	if count != len(uploads)-3 {
		t.Errorf("%d uploads acknowledged, want %d", count, len(uploads)-3)
	}

	// The publish log: per target, no two publishes overlap, generation
	// numbers strictly increase, and every node published.
	db, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	total := 0
	byNode := map[string]int{}
	for _, target := range []string{debT, rpmT, apkT} {
		log, err := db.PublishLog(context.Background(), target)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) == 0 {
			t.Errorf("%s: no publish logged", target)
		}
		checkPublishLog(t, target, log)
		total += len(log)
		for _, r := range log {
			byNode[r.Node]++
		}
	}
	if len(byNode) < 2 {
		t.Errorf("publishes by node %v: want several nodes publishing", byNode)
	}
	spread := []int64{lb.spread[0].Load(), lb.spread[1].Load(), lb.spread[2].Load()}
	t.Logf("%d uploads (%d retried after errors), %d publishes (by node %v); readers: %d apt-get updates, %d dnf makecaches; "+
		"balancer requests per node %v", count, failed.Load(), total, byNode, aptRuns.Load(), dnfRuns.Load(), spread)
	if total >= count {
		t.Errorf("%d publishes for %d uploads: they did not coalesce", total, count)
	}
	if aptRuns.Load() == 0 || dnfRuns.Load() == 0 {
		t.Errorf("the readers never completed a round during the uploads: apt %d, dnf %d", aptRuns.Load(), dnfRuns.Load())
	}
}

// checkPublishLog fails t if two publishes of target overlap or a
// generation number does not exceed the one before.
func checkPublishLog(t *testing.T, target string, log []repo.PublishRecord) {
	t.Helper()
	for i, r := range log {
		if r.Error != "" {
			t.Errorf("%s: publish %d on %s failed: %s", target, i, r.Node, r.Error)
		}
		if i == 0 {
			continue
		}
		prev := log[i-1]
		if r.Started.Before(prev.Finished) {
			t.Errorf("%s: publish on %s [%s, %s] overlaps the one on %s [%s, %s]", target, r.Node, r.Started.Format(time.StampMicro),
				r.Finished.Format(time.StampMicro), prev.Node, prev.Started.Format(time.StampMicro), prev.Finished.Format(time.StampMicro))
		}
		if r.Error == "" && prev.Error == "" && r.Generation <= prev.Generation {
			t.Errorf("%s: generation %d (%s) after %d (%s)", target, r.Generation, r.Node, prev.Generation, prev.Node)
		}
	}
}

// clusterUpload posts body to target on the node at base; a connection
// error is returned, not fatal.
func clusterUpload(base, target string, body []byte) (int, string, error) {
	req, err := http.NewRequest("POST", base+"/api/v1/targets/"+target+"/packages", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// getOK fetches path from s and fails t unless it is 200.
func getOK(t *testing.T, s *server, path string) []byte {
	t.Helper()
	code, body, _ := s.get(path)
	if code != 200 {
		t.Fatalf("GET %s: %d", path, code)
	}
	return body
}

var primaryHrefRE = regexp.MustCompile(`<data type="primary">\s*<checksum[^>]*>[^<]*</checksum>\s*(?:<open-checksum[^>]*>[^<]*</open-checksum>\s*)?<location href="([^"]+)"`)

// clusterPrimary returns the decompressed primary.xml of the rpm repository
// at base.
func clusterPrimary(t *testing.T, s *server, base string) string {
	t.Helper()
	repomd := getOK(t, s, base+"/repodata/repomd.xml")
	m := primaryHrefRE.FindSubmatch(repomd)
	if m == nil {
		t.Fatalf("no primary in repomd.xml:\n%s", repomd)
	}
	return string(gunzip(t, getOK(t, s, base+"/"+string(m[1]))))
}

// apkIndexText returns the APKINDEX text of the APKINDEX.tar.gz at path,
// after checking its signature with the apk key the cluster serves.
func apkIndexText(t *testing.T, s *server, path string) string {
	t.Helper()
	setup := getOK(t, s, "/setup/5.8/alpine/v3.20")
	m := regexp.MustCompile(`(?m)^wget -O /etc/apk/keys/(\S+\.rsa\.pub) `).FindSubmatch(setup)
	if m == nil {
		t.Fatalf("no apk key in the setup:\n%s", setup)
	}
	pub, err := apkPublicKey(getOK(t, s, "/keys/"+string(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	text, err := apkVerifyIndex(getOK(t, s, path), map[string]*rsa.PublicKey{string(m[1]): pub})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return text
}

// gunzip decompresses b.
func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
