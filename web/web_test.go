package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storegraph/storegraph/auth"
	"github.com/storegraph/storegraph/config"
	"github.com/storegraph/storegraph/events"
	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/dbtest"
)

// testHandler returns the server's handler over a fresh, migrated database, and the buffer
// that receives its JSON logs (debug level, so that every SQL statement is logged too).
func testHandler(t testing.TB, databaseURL string, cfg config.Config) (*Handler, *logBuffer) {
	t.Helper()
	s := testStack(t, databaseURL, cfg)
	return s.Handler, s.logs
}

// stack is a handler with what tests reach around it for: its logs, its database, and the
// event hub it serves subscriptions from.
type stack struct {
	*Handler
	logs *logBuffer
	db   *storage.DB
	hub  *events.Hub
}

// testStack is testHandler with its database and hub, which runs until the test ends.
// Stream settings left zero in cfg take their defaults.
func testStack(t testing.TB, databaseURL string, cfg config.Config) stack {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(requestIDHandler{slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})})
	db := dbtest.Open(t, databaseURL, log)
	logs.Reset() // keep only what requests log
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 10e9
	}
	if cfg.Auth.RefreshTokenTTL == 0 {
		cfg.Auth.RefreshTokenTTL = time.Hour
	}
	defaults, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	s, d := &cfg.Streams, defaults.Streams
	s.InitTimeout = cmp.Or(s.InitTimeout, d.InitTimeout)
	s.PingInterval = cmp.Or(s.PingInterval, d.PingInterval)
	s.WriteTimeout = cmp.Or(s.WriteTimeout, d.WriteTimeout)
	s.MaxSubscriptionsPerConnection = cmp.Or(s.MaxSubscriptionsPerConnection, d.MaxSubscriptionsPerConnection)
	s.MaxConnections = cmp.Or(s.MaxConnections, d.MaxConnections)
	tokens, err := auth.NewTokens(testKey, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	hub := events.NewHub(db, events.Options{Log: log})
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- hub.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-stopped; err != nil {
			t.Errorf("hub: %v", err)
		}
	})
	h := New(cfg, Deps{DB: db, Log: log, Tokens: tokens, Events: hub})
	t.Cleanup(h.CloseStreams) // before the hub stops: a stream left open would see it end
	return stack{Handler: h, logs: logs, db: db, hub: hub}
}

// testKey signs the access tokens of testHandler's handlers.
var testKey = []byte("web-test-key-web-test-key-web-32")

// postGraphQL sends one GraphQL request through h.
func postGraphQL(h http.Handler, body string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// logBuffer collects log output from concurrent requests.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logLines decodes the JSON log lines a handler wrote.
func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		lines = append(lines, entry)
	}
	return lines
}

// serveCatchingPanics serves r and turns a panic that escapes h into a test failure, so that
// a missing recovery fails the test instead of the whole test binary.
func serveCatchingPanics(t *testing.T, h http.Handler, r *http.Request) (rec *httptest.ResponseRecorder) {
	t.Helper()
	rec = httptest.NewRecorder()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("%s %s: the panic %v escaped the handler", r.Method, r.URL.Path, p)
		}
	}()
	h.ServeHTTP(rec, r)
	return rec
}

func TestMiddlewareRecoversAPanicLogsItAndKeepsServing(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(ctx, "sqlite::memory:", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	logs := &logBuffer{}
	log := slog.New(requestIDHandler{slog.NewJSONHandler(logs, nil)})
	m := newMetrics(db)
	h := middleware(log, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/graphql" {
			var counts map[string]int
			counts["boom"]++ // assignment to entry in nil map
		}
		fmt.Fprintln(w, "ok")
	}))

	r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{}`))
	r.Header.Set(requestIDHeader, "req-panic")
	rec := serveCatchingPanics(t, h, r)
	want := `{"errors":[{"extensions":{"code":"INTERNAL_SERVER_ERROR"},"message":"internal error"}]}`
	if rec.Code != http.StatusInternalServerError || strings.TrimSpace(rec.Body.String()) != want {
		t.Fatalf("got %d %s, want 500 %s", rec.Code, rec.Body, want)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want JSON", ct)
	}

	var panicked, request map[string]any
	for _, line := range logLines(t, logs.String()) {
		switch line["msg"] {
		case "handler panicked":
			panicked = line
		case "request":
			request = line
		}
	}
	if panicked == nil || panicked["level"] != "ERROR" || panicked["request_id"] != "req-panic" ||
		panicked["panic"] != "assignment to entry in nil map" ||
		!strings.Contains(fmt.Sprint(panicked["stack"]), "TestMiddlewareRecoversAPanicLogsItAndKeepsServing") {
		t.Fatalf("panic log line = %v, want level ERROR, request_id req-panic, the panic and a stack through this test\n%s", panicked, logs)
	}
	// The access log sits outside recovery: it sees the 500 that was sent.
	if request == nil || request["status"] != float64(http.StatusInternalServerError) || request["request_id"] != "req-panic" {
		t.Fatalf("access log line = %v, want status 500 and request_id req-panic", request)
	}

	// And the server goes on: the next request is answered normally.
	rec = serveCatchingPanics(t, h, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Fatalf("request after the panic: %d %q, want 200 ok", rec.Code, rec.Body)
	}

	// The metrics count the recovered request as an error with its code.
	rec = httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range []string{
		`storegraph_graphql_requests_total{operation="(anonymous)",outcome="error"} 1`,
		`storegraph_graphql_errors_total{code="INTERNAL_SERVER_ERROR"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), "\n"+line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

// panickyContext panics when asked for its deadline, which /graphql (its request timeout)
// and /readyz (its ping timeout) both do in their own code, outside any resolver.
type panickyContext struct{ context.Context }

func (panickyContext) Deadline() (time.Time, bool) { panic("deadline unavailable") }

// New offers no way to plug in a handler of one's own; a request whose context panics
// makes its endpoints panic, which shows that New puts them inside the recovery.
func TestRoutesRecoverPanicsOutsideResolvers(t *testing.T) {
	h, logs := testHandler(t, "sqlite::memory:", config.Config{})
	tests := []struct {
		method, path, body string
	}{
		{http.MethodPost, "/graphql", `{"query":"{ stores { totalCount } }"}`},
		{http.MethodGet, "/readyz", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			logs.Reset()
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			r = r.WithContext(panickyContext{r.Context()})
			rec := serveCatchingPanics(t, h, r)

			want := `{"errors":[{"extensions":{"code":"INTERNAL_SERVER_ERROR"},"message":"internal error"}]}`
			if rec.Code != http.StatusInternalServerError || strings.TrimSpace(rec.Body.String()) != want {
				t.Fatalf("got %d %s, want 500 %s", rec.Code, rec.Body, want)
			}
			id := rec.Header().Get(requestIDHeader)
			var logged bool
			for _, line := range logLines(t, logs.String()) {
				if line["msg"] == "handler panicked" {
					logged = line["request_id"] == id && line["panic"] == "deadline unavailable" &&
						strings.Contains(fmt.Sprint(line["stack"]), "panickyContext.Deadline")
				}
			}
			if id == "" || !logged {
				t.Fatalf("no panic log line with request_id %q, the panic and its stack:\n%s", id, logs)
			}
		})
	}

	rec := serveCatchingPanics(t, h, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/readyz after the panics: %d, want 200", rec.Code)
	}
}

// signIn makes an account and a session straight in s's database and returns an access
// token of that session: no password is hashed, so it takes none of a request's time.
func (s stack) signIn(t testing.TB, email string) string {
	t.Helper()
	ctx := context.Background()
	u, err := s.db.CreateUser(ctx, email, "not a real hash")
	if err != nil {
		t.Fatal(err)
	}
	session, err := s.db.CreateSession(ctx, u.ID, auth.HashRefreshToken("refresh token of "+email), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewTokens(testKey, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := tokens.Issue(auth.Claims{UserID: u.ID, SessionID: session.ID, Role: string(u.Role)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return token
}
