package e2e

// The server process: TestMain builds the binary once, startServer runs it on a free port
// for a test and stops it when the test ends.

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

var (
	// rootDir is the repository root, where the server is built.
	rootDir string
	// binDir holds the server binaries.
	binDir string
	// builds are the plain and the race-enabled server binary, each built the first time a
	// test needs it: a run that starts no server (benchmarks, -run filters) builds nothing,
	// and only the load test needs the race build.
	builds [2]struct {
		once sync.Once
		path string
		err  error
	}
)

// Timeouts of the server's life cycle.
const (
	startTimeout = 20 * time.Second // from exec to /healthz answering 200
	stopTimeout  = 10 * time.Second // from SIGTERM to exit
	buildTimeout = 5 * time.Minute
)

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	var err error
	if rootDir, err = repoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if binDir, err = os.MkdirTemp("", "storegraph-e2e-"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	return m.Run()
}

// serverBinary returns the server binary, built with the race detector when race is true.
func serverBinary(t testing.TB, race bool) string {
	t.Helper()
	b, name := &builds[0], "storegraph"
	if race {
		b, name = &builds[1], "storegraph-race"
	}
	b.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		b.path = filepath.Join(binDir, name)
		b.err = goBuild(ctx, b.path, race)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// goBuild compiles the server from the repository root into bin, with the race detector
// when race is true.
func goBuild(ctx context.Context, bin string, race bool) error {
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, ".")...)
	cmd.Dir = rootDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s in %s failed: %v\n%s", strings.Join(args, " "), rootDir, err, out)
	}
	return nil
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
	Addr    string // 127.0.0.1:PORT
	Pid     int

	// token, when not empty, is sent as `Authorization: Bearer <token>` with every request
	// of s.http, so of every helper of s; see withToken.
	token string

	*process                  // shared by the copies of withToken
	transport *http.Transport // the connections, shared by the copies of withToken
	http      *http.Client    // sends token over transport
}

// process is the running binary of a server.
type process struct {
	cmd      *exec.Cmd
	stdout   *syncBuffer
	stderr   *syncBuffer
	exited   chan struct{}
	waitErr  error // valid once exited is closed
	stopOnce sync.Once
}

// withToken is s with requests that carry token as their bearer token, or none when token
// is "": the same process and connections, so the copy is neither stopped nor cleaned up
// (that stays with s).
func (s *server) withToken(token string) *server {
	c := *s
	c.token = token
	c.http = newHTTPClient(c.transport, token)
	return &c
}

// serverOptions are the settings of startServerWith beyond backend and database.
type serverOptions struct {
	// env adds NAME=value settings; "$PORT" in a value stands for the server's port.
	env []string
	// race runs the server built with the race detector.
	race bool
	// noExitCheck stops the server when the test ends (SIGTERM, SIGKILL after stopTimeout)
	// without requiring exit status 0: for tests that take the exit with Wait or Terminate,
	// or that judge the server by their own assertions only.
	noExitCheck bool
	// anonymous skips the default sign-in: the server's requests carry no token.
	anonymous bool
}

// startServer runs the binary on dbURL with a free port, waits until /healthz answers and
// signs in as the default user (see signInDefault), who then owns the stores the test
// creates. The server is stopped (and its exit code checked, see Stop) when t ends; its
// logs are printed if t failed. env adds NAME=value settings.
func startServer(t testing.TB, backend, dbURL string, env ...string) *server {
	t.Helper()
	return startServerWith(t, backend, dbURL, serverOptions{env: env})
}

// startServerWith is startServer with more options.
func startServerWith(t testing.TB, backend, dbURL string, o serverOptions) *server {
	t.Helper()
	bin := serverBinary(t, o.race)
	for attempt := 1; ; attempt++ {
		s, err := tryStartServer(t, bin, backend, dbURL, o.env)
		if err == nil {
			t.Cleanup(func() {
				if o.noExitCheck {
					s.halt()
				} else {
					s.Stop(t)
				}
				if t.Failed() {
					t.Logf("%s server logs (stderr):\n%s", s.Backend, s.stderr)
				}
			})
			if o.anonymous {
				return s
			}
			return s.withToken(signInDefault(t, s))
		}
		// Another process may take the port between freePort and the server's bind.
		if attempt < 3 && strings.Contains(s.stderr.String(), "address already in use") {
			t.Logf("port taken, retrying: %v", err)
			continue
		}
		t.Fatalf("server did not start: %v\nserver stderr:\n%s\nserver stdout:\n%s", err, s.stderr, s.stdout)
	}
}

func tryStartServer(t testing.TB, bin, backend, dbURL string, env []string) (*server, error) {
	port := freePort(t)
	s := &server{
		Backend: backend,
		DBURL:   dbURL,
		BaseURL: "http://127.0.0.1:" + port,
		Addr:    "127.0.0.1:" + port,
		process: &process{
			stdout: &syncBuffer{},
			stderr: &syncBuffer{},
			exited: make(chan struct{}),
		},
		transport: newTransport(),
	}
	s.http = newHTTPClient(s.transport, "")
	s.cmd = exec.Command(bin)
	s.cmd.Dir = t.TempDir() // the default SQLite file, if anything, lands here
	s.cmd.Env = append(baseEnv(), "DATABASE_URL="+dbURL, "PORT="+port)
	for _, kv := range env {
		s.cmd.Env = append(s.cmd.Env, strings.ReplaceAll(kv, "$PORT", port))
	}
	s.cmd.Stdout = s.stdout
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	s.Pid = s.cmd.Process.Pid
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	deadline := time.Now().Add(startTimeout)
	probe := &http.Client{Timeout: time.Second}
	for {
		if s.Exited() {
			return s, fmt.Errorf("the server exited during start-up: %v", s.waitErr)
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

// Exited reports whether the process has ended.
func (s *server) Exited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// exitWithin waits up to d for the process to end and reports whether it did.
func (s *server) exitWithin(d time.Duration) bool {
	select {
	case <-s.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// sigterm closes the client's idle connections and asks the server to stop.
func (s *server) sigterm() error {
	s.http.CloseIdleConnections()
	return s.cmd.Process.Signal(syscall.SIGTERM)
}

// Stop sends SIGTERM and fails t unless the server exits with status 0 within stopTimeout.
// Only the first call does anything.
func (s *server) Stop(t testing.TB) {
	t.Helper()
	s.stopOnce.Do(func() {
		if s.Exited() { // died by itself (or was killed by a failed start)
			if s.waitErr != nil {
				t.Errorf("%s server had already exited: %v", s.Backend, s.waitErr)
			}
			return
		}
		if err := s.sigterm(); err != nil {
			t.Errorf("SIGTERM: %v", err)
		}
		if !s.exitWithin(stopTimeout) {
			s.kill()
			t.Errorf("%s server did not exit within %v of SIGTERM; killed it", s.Backend, stopTimeout)
			return
		}
		if s.waitErr != nil {
			t.Errorf("%s server exited with %v after SIGTERM, want exit status 0", s.Backend, s.waitErr)
		}
	})
}

// halt stops the server if it still runs, without judging how it ends: SIGTERM, and
// SIGKILL if it has not exited within stopTimeout.
func (s *server) halt() {
	s.http.CloseIdleConnections()
	if s.Exited() {
		return
	}
	_ = s.sigterm()
	if !s.exitWithin(stopTimeout) {
		s.kill()
	}
}

// Terminate sends SIGTERM and returns the exit code, or fails the test if the process is
// still running after within.
func (s *server) Terminate(t testing.TB, within time.Duration) int {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	return s.Wait(t, within)
}

// Wait waits for the process to exit by itself and returns its exit code.
func (s *server) Wait(t testing.TB, within time.Duration) int {
	t.Helper()
	if !s.exitWithin(within) {
		t.Fatalf("server still running %v after being asked to stop:\n%s", within, s.stderr)
	}
	code, ok := exitCode(s.waitErr)
	if !ok {
		t.Fatalf("wait: %v", s.waitErr)
	}
	return code
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// exitCode is the exit status that err, from exec.Cmd's Wait or Run, reports; ok is false
// when err is about something else.
func exitCode(err error) (code int, ok bool) {
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, true
	case errors.As(err, &exitErr):
		return exitErr.ExitCode(), true
	}
	return 0, false
}

// Stderr returns what the server has written to stderr (its logs) so far.
func (s *server) Stderr() string { return s.stderr.String() }

// baseEnv is the test's environment without the settings of the server, which each test
// chooses itself.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "DATABASE_URL", "PORT", "GRAPHQL_INTROSPECTION", "SHUTDOWN_TIMEOUT", "LOG_LEVEL",
			"JWT_SECRET", "ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL", "AUTH_RATE_PER_ADDRESS", "AUTH_RATE_PER_EMAIL", "PASSWORD_HASH_CONCURRENCY":
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

// newTransport has enough connections for the concurrency and load tests.
func newTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 128
	tr.MaxConnsPerHost = 128
	return tr
}

// newHTTPClient has a bounded timeout and sends token, if not "", as the bearer token of
// every request over tr.
func newHTTPClient(tr *http.Transport, token string) *http.Client {
	c := &http.Client{Timeout: 60 * time.Second, Transport: tr}
	if token != "" {
		c.Transport = bearerTransport{base: tr, token: token}
	}
	return c
}

// bearerTransport adds `Authorization: Bearer <token>` to the requests that do not set an
// Authorization header themselves (a test's own, wrong or empty, header stays as it is).
type bearerTransport struct {
	base  *http.Transport
	token string
}

func (b bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, set := req.Header["Authorization"]; set {
		return b.base.RoundTrip(req)
	}
	req = req.Clone(req.Context()) // a RoundTripper must not change the caller's request
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the connections.
func (b bearerTransport) CloseIdleConnections() { b.base.CloseIdleConnections() }

// runBinary runs the server binary to completion with extra environment and arguments and
// returns its stdout, stderr and exit code.
func runBinary(t testing.TB, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin := serverBinary(t, false) // before the clock starts: the first call builds it
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(baseEnv(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("storegraph %s did not finish within 30s; stderr:\n%s", strings.Join(args, " "), errOut.String())
	}
	code, ok := exitCode(err)
	if !ok {
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

// eventually polls cond until it holds or d has passed.
func eventually(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
