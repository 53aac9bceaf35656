package web

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/storegraph/storegraph/config"
	"github.com/storegraph/storegraph/storage/storagetest"
)

func TestRequestTimeoutEndsBlockedDatabaseWorkWithUnavailable(t *testing.T) {
	databaseURL := storagetest.NewPostgres(t)
	s := testStack(t, databaseURL, config.Config{RequestTimeout: 300 * time.Millisecond})
	h, logs := s.Handler, s.logs
	// Not through register: a password hash can take longer than the 300 ms under -race.
	token := s.signIn(t, "blocked@example.com")
	lockTables(t, databaseURL)

	start := time.Now()
	rec := postGraphQL(h, `{"query":"mutation { createStore(input: {name: \"Blocked\"}) { id } }"}`, "X-Request-ID", "slow-1", "Authorization", "Bearer "+token)
	elapsed := time.Since(start)

	want := `{"errors":[{"message":"The service is temporarily unavailable; try again shortly.","path":["createStore"],"locations":[{"line":1,"column":12}],"extensions":{"code":"UNAVAILABLE"}}],"data":null}`
	if rec.Code != http.StatusOK || rec.Body.String() != want {
		t.Fatalf("got %d %s\nwant 200 %s", rec.Code, rec.Body, want)
	}
	if elapsed < 300*time.Millisecond || elapsed > 2*time.Second {
		t.Fatalf("answered after %v, want just over the 300ms request timeout", elapsed)
	}
	if !strings.Contains(logs.String(), `"msg":"database unavailable"`) || !strings.Contains(logs.String(), `"request_id":"slow-1"`) {
		t.Fatalf("log lacks the outage under the request's ID:\n%s", logs)
	}
}

func TestClientDisconnectCancelsDatabaseWork(t *testing.T) {
	// The server's connections carry an application_name of their own, so that the test
	// can see its statements in pg_stat_activity among everyone else's.
	u, err := url.Parse(storagetest.NewPostgres(t))
	if err != nil {
		t.Fatal(err)
	}
	appName := "storegraph-disconnect-" + strings.ReplaceAll(t.Name(), "/", "-")
	q := u.Query()
	q.Set("application_name", appName)
	u.RawQuery = q.Encode()
	h, _ := testHandler(t, u.String(), config.Config{})
	token := register(t, h, "leaving@example.com")
	srv := httptest.NewServer(h)
	defer srv.Close()
	admin := lockTables(t, u.String())

	waiting := func() int {
		var n int
		if err := admin.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, appName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/graphql",
			strings.NewReader(`{"query":"mutation { createStore(input: {name: \"Abandoned\"}) { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()

	if !eventually(5*time.Second, func() bool { return waiting() == 1 }) {
		t.Fatal("the mutation never waited for the lock")
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
	if !eventually(2*time.Second, func() bool { return waiting() == 0 }) {
		t.Fatal("the statement still waits after the client went away")
	}
}

// lockTables locks stores and items against every other session until the test ends, in a
// transaction of the test's own, and returns that session's pool for queries of its own.
func lockTables(t *testing.T, databaseURL string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("pgx", databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := raw.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("LOCK TABLE stores, items IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tx.Rollback()
		_ = raw.Close()
	})
	return raw
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
