package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDeployNginx runs deploy/cluster/nginx.conf (with the addresses of
// this test's nodes, ports and file paths) with Debian's nginx in front of
// three pier serve nodes on PostgreSQL and S3: uploads and publishes go
// through it, apt-get installs through it, and when a node is killed with
// SIGKILL nginx's retries keep apt-get and uploads working.
func TestDeployNginx(t *testing.T) {
	need(t, "apt-get")
	nginxBin := need(t, "nginx")
	cfg, dsn := clusterConfig(t, "pier-deploy", "auth:\n  trusted_proxies: [127.0.0.1]\n")
	var nodes []*server
	for i := range 3 {
		nodes = append(nodes, startServer(t, "", "PIER_CONFIG="+cfg, "PIER_DATABASE_URL="+dsn, fmt.Sprintf("PIER_NODE_NAME=node%d", i)))
	}
	front := startNginx(t, nginxBin, nodes)

	debs := map[string][]byte{}
	for i := range 6 {
		name := fmt.Sprintf("dep-%d", i)
		debs[name] = mkdeb(t, name, "1.0", "amd64", name)
		if code, r := front.upload("5.8/debian/bookworm", debs[name], "?publish=false"); code != 201 {
			t.Fatalf("upload %s through nginx: %d %v", name, code, r)
		}
	}
	front.publish("5.8/debian/bookworm")
	apt := newApt(t, sourceLine(writeKey(t, front, t.TempDir()), front.url, "5.8", "bookworm"))
	apt.update()
	for name, want := range debs {
		if got := apt.download(name); string(got) != string(want) {
			t.Errorf("%s through nginx: bytes differ", name)
		}
	}
	// A node dies: nginx retries the next one.
	nodes[1].kill()
	for i := range 6 {
		name := fmt.Sprintf("dep-late-%d", i)
		debs[name] = mkdeb(t, name, "1.0", "amd64", name)
		if code, r := front.upload("5.8/debian/bookworm", debs[name], "?publish=false"); code != 201 {
			t.Fatalf("upload %s with a node dead: %d %v", name, code, r)
		}
	}
	front.publish("5.8/debian/bookworm")
	for range 3 {
		apt.update()
	}
	if got := apt.download("dep-late-5"); string(got) != string(debs["dep-late-5"]) {
		t.Error("a package uploaded with a node dead: bytes differ")
	}
}

// startNginx renders deploy/cluster/nginx.conf for nodes and runs nginx in
// the foreground until the test ends (stopped by its PID).
func startNginx(t *testing.T, bin string, nodes []*server) *server {
	t.Helper()
	src, err := os.ReadFile("../deploy/cluster/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := string(src)
	servers := regexp.MustCompile(`(?m)^(\s*server )10\.0\.0\.\d+:8080( .*;)$`).FindAllStringSubmatchIndex(conf, -1)
	// Two upstreams (every request, and the roots by client) name the
	// same nodes.
	if len(servers) != 2*len(nodes) {
		t.Fatalf("deploy/cluster/nginx.conf names %d servers, want %d nodes twice", len(servers), len(nodes))
	}
	for i := len(servers) - 1; i >= 0; i-- {
		m := servers[i]
		host := strings.TrimPrefix(nodes[i%len(nodes)].url, "http://")
		conf = conf[:m[0]] + conf[m[2]:m[3]] + host + conf[m[4]:m[5]] + conf[m[1]:]
	}
	for old, repl := range map[string]string{
		"listen 80;":                     "listen " + addr + ";",
		"pid /run/nginx-pier.pid;":       "pid " + filepath.Join(dir, "nginx.pid") + ";",
		"/var/log/nginx/pier-error.log":  filepath.Join(dir, "error.log"),
		"/var/log/nginx/pier-access.log": filepath.Join(dir, "access.log"),
	} {
		if !strings.Contains(conf, old) {
			t.Fatalf("deploy/cluster/nginx.conf lacks %q", old)
		}
		conf = strings.ReplaceAll(conf, old, repl)
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-t", "-p", dir, "-c", path).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-g", "daemon off;")
	out, _ := os.Create(filepath.Join(dir, "stderr"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	front := &server{t: t, url: "http://" + addr}
	waitFor(t, 10*time.Second, "nginx to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return front
}
