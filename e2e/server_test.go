package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage/storagetest"
)

// binPath is the server binary TestMain builds from the repository root.
var binPath string

// Timeouts of the server's life cycle.
const (
	startTimeout = 10 * time.Second // from exec to /healthz answering 200
	stopTimeout  = 5 * time.Second  // from SIGTERM to exit
	buildTimeout = 5 * time.Minute
)

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "storegraph-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	binPath = filepath.Join(dir, "storegraph")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", binPath, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build in %s failed: %v\n%s", root, err, out)
		return 1
	}
	return m.Run()
}

// repoRoot is the directory of go.mod above the working directory (the e2e package).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the e2e directory")
		}
		dir = parent
	}
}

// syncBuffer is a bytes.Buffer the server process and the test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is one running storegraph process.
type server struct {
	Backend string // "postgres" or "sqlite"
	DBURL   string
	BaseURL string // http://127.0.0.1:PORT

	cmd     *exec.Cmd
	stdout  *syncBuffer
	stderr  *syncBuffer
	exited  chan struct{}
	waitErr error // valid once exited is closed
	http    *http.Client

	stopOnce sync.Once
}

// startServer runs the binary on dbURL with a free port and waits until /healthz answers.
// The server is stopped (and its exit code checked) when t ends; its logs are printed if t
// failed. env adds NAME=value settings.
func startServer(t testing.TB, backend, dbURL string, env ...string) *server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, err := tryStartServer(t, backend, dbURL, env)
		if err == nil {
			t.Cleanup(func() {
				s.Stop(t)
				if t.Failed() {
					t.Logf("%s server logs (stderr):\n%s", s.Backend, s.stderr)
				}
			})
			return s
		}
		// Another process may take the port between freePort and the server's bind.
		if attempt < 3 && strings.Contains(s.stderr.String(), "address already in use") {
			t.Logf("port taken, retrying: %v", err)
			continue
		}
		t.Fatalf("server did not start: %v\nserver stderr:\n%s\nserver stdout:\n%s", err, s.stderr, s.stdout)
	}
}

func tryStartServer(t testing.TB, backend, dbURL string, env []string) (*server, error) {
	port := freePort(t)
	s := &server{
		Backend: backend,
		DBURL:   dbURL,
		BaseURL: "http://127.0.0.1:" + port,
		stdout:  &syncBuffer{},
		stderr:  &syncBuffer{},
		exited:  make(chan struct{}),
		http:    newHTTPClient(),
	}
	s.cmd = exec.Command(binPath)
	s.cmd.Dir = t.TempDir() // the default SQLite file, if anything, lands here
	s.cmd.Env = append(baseEnv(), "DATABASE_URL="+dbURL, "PORT="+port)
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stdout = s.stdout
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", binPath, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	deadline := time.Now().Add(startTimeout)
	probe := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-s.exited:
			return s, fmt.Errorf("the server exited during start-up: %v", s.waitErr)
		default:
		}
		resp, err := probe.Get(s.BaseURL + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.kill()
			return s, fmt.Errorf("GET /healthz did not answer 200 within %v (last error: %v)", startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM and fails t unless the server exits with status 0 within stopTimeout.
// Only the first call does anything.
func (s *server) Stop(t testing.TB) {
	t.Helper()
	s.stopOnce.Do(func() {
		select {
		case <-s.exited: // died by itself (or was killed by a failed start)
			if s.waitErr != nil {
				t.Errorf("%s server had already exited: %v", s.Backend, s.waitErr)
			}
			return
		default:
		}
		s.http.CloseIdleConnections()
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM: %v", err)
		}
		select {
		case <-s.exited:
			if s.waitErr != nil {
				t.Errorf("%s server exited with %v after SIGTERM, want exit status 0", s.Backend, s.waitErr)
			}
		case <-time.After(stopTimeout):
			s.kill()
			t.Errorf("%s server did not exit within %v of SIGTERM; killed it", s.Backend, stopTimeout)
		}
	})
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Logs returns what the server has written to stderr so far.
func (s *server) Logs() string { return s.stderr.String() }

// baseEnv is the test's environment without the settings of the server, which each test
// chooses itself.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "DATABASE_URL", "PORT", "GRAPHQL_INTROSPECTION", "SHUTDOWN_TIMEOUT":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// newHTTPClient has a bounded timeout and enough idle connections for the concurrency tests.
func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Timeout: 30 * time.Second, Transport: tr}
}

// get fetches a path of the server and returns status, headers and body.
func (s *server) get(t testing.TB, path string) (int, http.Header, string) {
	t.Helper()
	resp, err := s.http.Get(s.BaseURL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// runBinary runs the server binary to completion with extra environment and arguments and
// returns its stdout, stderr and exit code.
func runBinary(t testing.TB, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(baseEnv(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("storegraph %s did not finish within 30s; stderr:\n%s", strings.Join(args, " "), errOut.String())
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	default:
		t.Fatalf("run storegraph %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// eachBackend runs fn as a parallel subtest per backend, each with a fresh database and a
// server of its own on it.
func eachBackend(t *testing.T, fn func(t *testing.T, s *server)) {
	t.Helper()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		fn(t, startServer(t, backend, dbURL))
	})
}

// eachDatabase runs fn as a parallel subtest per backend with the URL of a fresh database,
// for tests that run the binary themselves.
func eachDatabase(t *testing.T, fn func(t *testing.T, backend, dbURL string)) {
	t.Helper()
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.Name, b.New(t))
		})
	}
}
