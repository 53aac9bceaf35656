package e2e

// Helpers of the fault, load, bad-input and shutdown tests: build the server, run it as a
// subprocess, and speak GraphQL to it. Everything here is prefixed proc so that it can sit
// beside (and later be folded into) the helpers of the other end-to-end tests.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// procBuild compiles the server into the test's temporary directory, with the race
// detector when race is true, and returns the binary's path.
func procBuild(t testing.TB, race bool) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(t.TempDir(), "storegraph")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = filepath.Dir(filepath.Dir(file)) // the repository root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// procServer is a running server process.
type procServer struct {
	URL  string // http://127.0.0.1:PORT
	Addr string // 127.0.0.1:PORT
	Pid  int

	cmd    *exec.Cmd
	stderr *procBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // its exit status, once done is closed
	client *http.Client
}

// procStart runs the server binary with the given environment (NAME=value; PORT is chosen
// here), waits until /healthz answers, and stops the server when the test ends.
func procStart(t testing.TB, bin string, env ...string) *procServer {
	t.Helper()
	port := procFreePort(t)
	s := &procServer{
		Addr:   "127.0.0.1:" + port,
		URL:    "http://127.0.0.1:" + port,
		stderr: &procBuffer{},
		done:   make(chan struct{}),
		client: &http.Client{
			Timeout:   60 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128},
		},
	}
	s.cmd = exec.Command(bin)
	s.cmd.Env = append(os.Environ(), append([]string{"PORT=" + port, "LOG_LEVEL=info"}, env...)...)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	s.Pid = s.cmd.Process.Pid
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.client.CloseIdleConnections()
		if s.Exited() {
			return
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})

	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if s.Exited() {
			t.Fatalf("server exited during start-up (%v):\n%s", s.err, s.stderr)
		}
		if resp, err := s.client.Get(s.URL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not answer /healthz within 20s:\n%s", s.stderr)
		}
	}
}

// Exited reports whether the process has ended.
func (s *procServer) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and returns the exit code, or fails the test if the process is still
// running after within.
func (s *procServer) Stop(t testing.TB, within time.Duration) int {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	return s.Wait(t, within)
}

// Wait waits for the process to exit by itself and returns its exit code.
func (s *procServer) Wait(t testing.TB, within time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(within):
		t.Fatalf("server still running %v after being asked to stop:\n%s", within, s.stderr)
	}
	var exitErr *exec.ExitError
	if errors.As(s.err, &exitErr) {
		return exitErr.ExitCode()
	}
	if s.err != nil {
		t.Fatalf("wait: %v", s.err)
	}
	return 0
}

// Stderr is what the server has logged so far.
func (s *procServer) Stderr() string { return s.stderr.String() }

// procResponse is a GraphQL response with the HTTP status it came with.
type procResponse struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []procError     `json:"errors"`
	Raw    []byte          `json:"-"`
}

type procError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// Codes lists extensions.code of every error, in order.
func (r *procResponse) Codes() []string {
	var codes []string
	for _, e := range r.Errors {
		code, _ := e.Extensions["code"].(string)
		codes = append(codes, code)
	}
	return codes
}

// Do sends one HTTP request to /graphql and decodes the GraphQL response. It returns an error
// only when no HTTP answer arrived or the answer is not a GraphQL response.
func (s *procServer) Do(ctx context.Context, method, contentType string, body []byte, query string) (*procResponse, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.URL.RawQuery = query
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := &procResponse{Status: resp.StatusCode, Raw: raw}
	if err := json.Unmarshal(raw, out); err != nil {
		return out, fmt.Errorf("status %d, body is not a GraphQL response: %.300s", resp.StatusCode, raw)
	}
	return out, nil
}

// GraphQL posts a query with its variables.
func (s *procServer) GraphQL(ctx context.Context, query string, variables map[string]any) (*procResponse, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": variables})
	if err != nil {
		return nil, err
	}
	return s.Do(ctx, http.MethodPost, "application/json", body, "")
}

// MustGraphQL posts a query that must succeed, and decodes its data into out (if not nil).
func (s *procServer) MustGraphQL(t testing.TB, out any, query string, variables map[string]any) {
	t.Helper()
	r, err := s.GraphQL(context.Background(), query, variables)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("%s: status %d, errors %s", query, r.Status, r.Raw)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatalf("decode %s: %v", r.Data, err)
		}
	}
}

// Get fetches a path other than /graphql and returns its status.
func (s *procServer) Get(path string) (int, error) {
	resp, err := s.client.Get(s.URL + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// procFreePort returns a TCP port nothing listens on at the moment.
func procFreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// procBuffer collects a process's output while the test reads it.
type procBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *procBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *procBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// procEventually polls cond until it holds or d has passed.
func procEventually(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
