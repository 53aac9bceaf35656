package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage/storagetest"
)

// clientsChromium is where the client tests expect Debian's chromium package;
// scripts/test installs it when it is missing.
const clientsChromium = "/usr/bin/chromium"

// TestRealClients runs the Node suite in e2e/clients (graphql-http's audits, Apollo Client,
// urql, the introspection round trip, codegen with tsc, GraphiQL in headless Chromium)
// against the compiled server on a fresh Postgres schema, and fails if any of it fails.
func TestRealClients(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH: the client tests need Node.js 20 or later and npm")
	}
	if _, err := os.Stat(clientsChromium); err != nil {
		t.Fatalf("%s is missing: run the tests with scripts/test, which installs Debian's chromium package", clientsChromium)
	}
	dir, err := filepath.Abs("clients")
	if err != nil {
		t.Fatal(err)
	}
	clientsInstall(t, dir)

	baseURL := clientsStartServer(t, clientsBuild(t), storagetest.NewPostgres(t))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// One file at a time: the files share the server, and the machine has two cores.
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-concurrency=1", "--test-reporter=spec")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "STOREGRAPH_URL="+baseURL, "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	t.Logf("node --test in %s:\n%s", dir, out)
	if err != nil {
		t.Fatalf("the client tests failed (%v); their output is above", err)
	}
}

// clientsInstall runs npm ci when node_modules is missing or older than package-lock.json.
func clientsInstall(t *testing.T, dir string) {
	t.Helper()
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
}

// clientsBuild compiles the server from the repository root into a temporary directory.
func clientsBuild(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "storegraph")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// clientsStartServer runs bin on dbURL and a free port until t ends, and returns its URL.
// Pages served from http://localhost:PORT may call it (CORS), those from other origins not.
func clientsStartServer(t *testing.T, bin, dbURL string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	baseURL := "http://127.0.0.1:" + strconv.Itoa(port)

	logs := &clientsLog{}
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "PORT="+strconv.Itoa(port),
		"CORS_ORIGINS=http://localhost:"+strconv.Itoa(port))
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
			t.Errorf("server had exited: %v", waitErr)
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
				if waitErr != nil {
					t.Errorf("server exited with %v after SIGTERM", waitErr)
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
				t.Error("server did not stop within 10s of SIGTERM")
			}
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})

	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatal("server exited during start-up")
		default:
		}
		if resp, err := http.Get(baseURL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return baseURL
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not answer /healthz within 15s")
		}
	}
}

// clientsLog collects the server's stderr, written by exec's copying goroutine.
type clientsLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *clientsLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *clientsLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
