package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage/storagetest"
)

// shutdownSetup starts the server on a fresh Postgres schema with the given grace period,
// locks its tables from a transaction of the test's own, and sends a mutation that waits
// for that lock: a request that is slow for real, with nothing slowed down in the server.
func shutdownSetup(t *testing.T, grace string) *shutdownScene {
	u, err := url.Parse(storagetest.NewPostgres(t))
	if err != nil {
		t.Fatal(err)
	}
	// The server's connections carry a name of their own, so that the test can find its
	// statements in pg_stat_activity among everyone else's (at most 63 bytes).
	appName := fmt.Sprintf("sg-shutdown-%d", time.Now().UnixNano())
	q := u.Query()
	q.Set("application_name", appName)
	u.RawQuery = q.Encode()
	s := startServerWith(t, "postgres", u.String(), serverOptions{env: []string{"SHUTDOWN_TIMEOUT=" + grace}, noExitCheck: true})

	admin, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	tx, err := admin.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("LOCK TABLE stores, items IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	sc := &shutdownScene{s: s, admin: admin, release: func() { _ = tx.Rollback() }, appName: appName, result: make(chan shutdownResult, 1)}
	t.Cleanup(sc.release)

	go func() {
		r, err := s.GraphQL(context.Background(), `mutation { createStore(input: {name: "Late"}) { name } }`, nil)
		sc.result <- shutdownResult{r, err}
	}()
	if !eventually(10*time.Second, func() bool { return sc.waiting(t) == 1 }) {
		t.Fatal("the mutation never waited for the lock")
	}
	return sc
}

// shutdownScene is a server with one request blocked on a lock the test holds.
type shutdownScene struct {
	s       *server
	admin   *sql.DB // the test's own connections to the server's schema
	release func()  // releases the lock
	appName string
	result  chan shutdownResult // the blocked request's outcome
}

type shutdownResult struct {
	resp *rawResponse
	err  error
}

// waiting counts the server's statements waiting for a lock.
func (sc *shutdownScene) waiting(t *testing.T) int {
	var n int
	err := sc.admin.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, sc.appName).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSIGTERMLetsTheInFlightRequestFinishThenExitsZero(t *testing.T) {
	sc := shutdownSetup(t, "20s")
	s := sc.s
	if err := s.sigterm(); err != nil {
		t.Fatal(err)
	}

	refused := eventually(5*time.Second, func() bool {
		conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	})
	if !refused {
		t.Fatal("new connections are still accepted after SIGTERM")
	}
	time.Sleep(300 * time.Millisecond) // the request stays slow a little longer
	select {
	case r := <-sc.result:
		t.Fatalf("the request ended before its lock was released: %+v", r)
	default:
	}
	if s.Exited() {
		t.Fatalf("the server exited with a request in flight: %v", s.waitErr)
	}

	sc.release()
	r := <-sc.result
	if r.err != nil || r.resp.Status != http.StatusOK || len(r.resp.Errors) > 0 || string(r.resp.Data) != `{"createStore":{"name":"Late"}}` {
		t.Fatalf("in-flight request: %v %+v, want it answered in full", r.err, r.resp)
	}
	if code := s.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0:\n%s", code, s.Stderr())
	}
	var n int
	if err := sc.admin.QueryRow(`SELECT count(*) FROM stores WHERE name = 'Late'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("stores named Late: %d (%v), want 1", n, err)
	}
	if !strings.Contains(s.Stderr(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop in the log:\n%s", s.Stderr())
	}
}

func TestShutdownGivesUpOnARequestThatOutlastsTheGracePeriod(t *testing.T) {
	sc := shutdownSetup(t, "1s")
	s := sc.s
	start := time.Now()
	code := s.Terminate(t, 10*time.Second)
	elapsed := time.Since(start)
	if code != 1 || elapsed < time.Second || elapsed > 5*time.Second {
		t.Fatalf("exit code %d after %v, want 1 after the 1s grace period:\n%s", code, elapsed, s.Stderr())
	}
	if !strings.Contains(s.Stderr(), "storegraph: shutdown: context deadline exceeded") {
		t.Fatalf("the log does not say why:\n%s", s.Stderr())
	}
	// The request is cut short, not dropped: the client hears to retry.
	r := <-sc.result
	if r.err != nil || r.resp.Status != http.StatusOK || !slices.Equal(r.resp.Codes(), []string{"UNAVAILABLE"}) {
		t.Fatalf("cut-off request: %v %+v, want an UNAVAILABLE answer", r.err, r.resp)
	}
	// Its statement was cancelled in Postgres, which would otherwise have run it once the
	// lock was free, for a client long gone.
	if !eventually(2*time.Second, func() bool { return sc.waiting(t) == 0 }) {
		t.Fatal("statements of the stopped server still wait for the lock")
	}
	sc.release()
	var n int
	if err := sc.admin.QueryRow(`SELECT count(*) FROM stores`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("stores: %d (%v), want 0", n, err)
	}
}

func TestSIGINTStopsTheServerLikeSIGTERM(t *testing.T) {
	// Ctrl-C in a terminal: the same drain and exit 0 as a deploy's SIGTERM.
	s := startServerWith(t, "sqlite", storagetest.NewSQLite(t), serverOptions{noExitCheck: true})
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := s.Wait(t, stopTimeout); code != 0 {
		t.Fatalf("exit code %d, want 0:\n%s", code, s.Stderr())
	}
	if !strings.Contains(s.Stderr(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop in the log:\n%s", s.Stderr())
	}
}
