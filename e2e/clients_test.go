package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage/storagetest"
)

// clientsChromium is where the client tests expect Debian's chromium package;
// scripts/test installs it when it is missing.
const clientsChromium = "/usr/bin/chromium"

// TestRealClients runs the Node suite in e2e/clients (graphql-http's audits, Apollo Client,
// urql, Relay (relay-compiler and relay-runtime), the introspection round trip, codegen with
// tsc, GraphiQL in headless Chromium, subscriptions through graphql-ws, Apollo's
// GraphQLWsLink and graphql-sse) against the compiled server on a fresh Postgres schema,
// and fails if any of it fails.
func TestRealClients(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(clientsChromium); err != nil {
		t.Fatalf("%s is missing: run the tests with scripts/test, which installs Debian's chromium package", clientsChromium)
	}
	// Pages served from http://localhost:PORT may call the server (CORS), those from other
	// origins not.
	s := startServer(t, "postgres", storagetest.NewPostgres(t), "CORS_ORIGINS=http://localhost:$PORT")
	runClientTests(t, s)
}

// TestRealClientsSubscribeOnSQLite runs the suite's subscription tests against the server
// on SQLite too: the change log and its wake-ups are the backend's own.
func TestRealClientsSubscribeOnSQLite(t *testing.T) {
	t.Parallel()
	runClientTests(t, startServer(t, "sqlite", storagetest.NewSQLite(t)), "subscriptions.test.mjs")
}

// runClientTests runs the Node suite's files (all of them when none is named) against s.
func runClientTests(t *testing.T, s *server, files ...string) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH: the client tests need Node.js 20 or later and npm")
	}
	dir, err := filepath.Abs("clients")
	if err != nil {
		t.Fatal(err)
	}
	clientsInstall(t, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// One file at a time: the files share the server, and the machine has two cores.
	cmd := exec.CommandContext(ctx, "node", append([]string{"--test", "--test-concurrency=1", "--test-reporter=spec"}, files...)...)
	cmd.Dir = dir
	// The clients write signed in as the default user, with the token startServer got: they
	// send it as `Authorization: Bearer` (helpers.mjs).
	cmd.Env = append(os.Environ(), "STOREGRAPH_URL="+s.BaseURL, "STOREGRAPH_TOKEN="+s.token, "CHROMIUM="+clientsChromium, "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	t.Logf("node --test in %s:\n%s", dir, out)
	if err != nil {
		t.Fatalf("the client tests failed (%v); their output is above", err)
	}
}

// clientsInstallMu keeps the tests that run the suite from installing it at once.
var clientsInstallMu sync.Mutex

// clientsInstall runs npm ci when node_modules is missing or older than package-lock.json.
func clientsInstall(t *testing.T, dir string) {
	t.Helper()
	clientsInstallMu.Lock()
	defer clientsInstallMu.Unlock()
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
