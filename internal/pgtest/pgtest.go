// Package pgtest starts a private PostgreSQL server for tests: its own
// cluster (initdb) in a temporary directory, listening only on 127.0.0.1 on
// a free port with its unix socket in that directory, run as an
// unprivileged user when the test runs as root (PostgreSQL refuses root),
// and stopped by its PID when the test ends.
//
// A missing PostgreSQL skips the test, except in CI (CI=true), where it
// fails it: .ci/run installs Debian's postgresql package.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running PostgreSQL server owned by one test.
type Server struct {
	dir  string // the temporary directory: data/ and the socket
	port int
	bin  string
	cred *syscall.Credential
	dbs  atomic.Int64

	mu   sync.Mutex
	proc *os.Process
	done chan struct{} // closed when the server process has exited
	log  *os.File
}

// binDirs are where Debian installs the server programs, newest first.
func binDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Lexical order is good enough for two-digit major versions.
	for i, j := 0, len(dirs)-1; i < j; i, j = i+1, j-1 {
		dirs[i], dirs[j] = dirs[j], dirs[i]
	}
	return dirs
}

// findBin returns the directory holding initdb and postgres.
func findBin() (string, error) {
	for _, d := range binDirs() {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
		// /usr/local/bin/initdb may be a link into the real directory.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
	}
	return "", errors.New("PostgreSQL server programs (initdb, postgres) not found")
}

// Available reports whether a server can be started here, and why not.
func Available() error {
	_, err := findBin()
	return err
}

// Start starts a new server for t and stops it when t ends. Without
// PostgreSQL installed it skips t, or fails it when CI=true.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := findBin()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v: PostgreSQL is required in CI", err)
		}
		t.Skip(err)
	}
	s, err := start(bin)
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop PostgreSQL: %v", err)
		}
		os.RemoveAll(s.dir)
	})
	return s
}

func start(bin string) (*Server, error) {
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: run it as the postgres user
		// (Debian's package makes it), or nobody.
		u, err := user.Lookup("postgres")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			return nil, fmt.Errorf("no unprivileged user to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "pier", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	if err := s.run(); err != nil {
		return nil, err
	}
	return s, nil
}

// run starts the server process and waits until it accepts connections.
func (s *Server) run() error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// Durability settings are off: a test's server never outlives a
	// crash of its host, and fsyncs would dominate the test time.
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.dir, "data"),
		"-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=64MB")
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server dies with the test process (Pdeathsig is tied to the
	// thread that started it: that thread stays locked, waiting).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT}
	started := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(done)
	}()
	if err := <-started; err != nil {
		logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	s.mu.Lock()
	s.proc, s.done, s.log = cmd.Process, done, logf
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		c, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err == nil {
			c.Close(ctx)
			return nil
		}
		select {
		case <-done:
			out, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
			return fmt.Errorf("postgres exited: %s", out)
		case <-ctx.Done():
			s.Stop()
			return fmt.Errorf("postgres did not accept connections: %w", err)
		case <-time.After(wait):
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// PID is the server process's id (0 while stopped).
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.Pid
}

// DSN is the URL of database db on the server, over TCP.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://pier@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// NewDatabase creates a new, empty database and returns its DSN.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d", s.dbs.Add(1))
	ctx := context.Background()
	c, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	return s.DSN(name)
}

// Exec runs sql on database db as the superuser (a test's setup, or its
// way to break something).
func (s *Server) Exec(ctx context.Context, db, sql string) error {
	c, err := pgx.Connect(ctx, s.DSN(db))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql)
	return err
}

// DatabaseOf returns the database name of a DSN made by this package.
func DatabaseOf(dsn string) string {
	rest := dsn[strings.LastIndex(dsn, "/")+1:]
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// Stop stops the server (fast shutdown: SIGINT to its PID) and waits for
// it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	proc, done, logf := s.proc, s.done, s.log
	s.proc = nil
	s.mu.Unlock()
	if proc == nil {
		return nil
	}
	defer logf.Close()
	if err := proc.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(30 * time.Second):
		proc.Signal(syscall.SIGQUIT)
		<-done
		return errors.New("postgres did not stop within 30s after SIGINT")
	}
}

// Restart starts a stopped server again on the same port and data.
func (s *Server) Restart() error {
	if s.PID() != 0 {
		return errors.New("pgtest: server is running")
	}
	return s.run()
}
