package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage"
)

// configVariables are the variables loadConfig itself reads (limits and CORS have their own
// tests); each test starts with all of them unset, so the machine's environment cannot leak in.
var configVariables = []string{
	"PORT", "DATABASE_URL", "GRAPHQL_INTROSPECTION", "SHUTDOWN_TIMEOUT", "REQUEST_TIMEOUT",
	"DB_MAX_CONNS", "DB_MAX_IDLE_CONNS", "DB_CONN_MAX_LIFETIME", "LOG_LEVEL",
	"MAX_BODY_BYTES", "MAX_QUERY_BYTES", "MAX_QUERY_TOKENS", "MAX_QUERY_FIELDS", "MAX_FIELD_REPEATS",
	"MAX_QUERY_DEPTH", "MAX_QUERY_ALIASES", "MAX_QUERY_COMPLEXITY", "MAX_PAGE_SIZE",
	"MAX_INFLIGHT_COST", "ADMISSION_TIMEOUT", "CORS_ORIGINS", "CORS_ALLOW_CREDENTIALS",
}

func unsetConfig(t *testing.T, env map[string]string) {
	t.Helper()
	for _, name := range configVariables {
		t.Setenv(name, "") // loadConfig treats empty as unset
	}
	for name, v := range env {
		t.Setenv(name, v)
	}
}

func TestConfigDefaultsWithNothingSet(t *testing.T) {
	unsetConfig(t, nil)
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	// Limits and CORS have tests of their own (limits_test.go, cors_test.go).
	cfg.limits, cfg.cors = limits{}, corsPolicy{}
	// An empty DATABASE_URL is storage.DefaultDatabaseURL; a zero Pool keeps storage's sizes.
	want := config{port: "8080", introspection: true, shutdownTimeout: 15 * time.Second, requestTimeout: 10 * time.Second, logLevel: slog.LevelInfo}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("defaults = %+v\nwant       %+v", cfg, want)
	}
}

func TestConfigVariablesAreParsedOrRefusedByName(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(config) bool
		wantErr string
	}{
		{"pool variables set the pool", map[string]string{"DB_MAX_CONNS": "12", "DB_MAX_IDLE_CONNS": "3", "DB_CONN_MAX_LIFETIME": "5m"},
			func(c config) bool {
				return c.pool == storage.Pool{MaxOpen: 12, MaxIdle: 3, MaxLifetime: 5 * time.Minute}
			}, ""},
		{"the other variables set their fields", map[string]string{
			"PORT": "9090", "DATABASE_URL": "sqlite::memory:", "GRAPHQL_INTROSPECTION": "false",
			"SHUTDOWN_TIMEOUT": "3s", "LOG_LEVEL": "debug",
		}, func(c config) bool {
			return c.port == "9090" && c.databaseURL == "sqlite::memory:" && !c.introspection &&
				c.shutdownTimeout == 3*time.Second && c.logLevel == slog.LevelDebug
		}, ""},
		{"DB_MAX_CONNS of 0", map[string]string{"DB_MAX_CONNS": "0"}, nil, `DB_MAX_CONNS="0" is not a positive whole number`},
		{"DB_MAX_CONNS negative", map[string]string{"DB_MAX_CONNS": "-2"}, nil, `DB_MAX_CONNS="-2" is not a positive whole number`},
		{"DB_MAX_CONNS not a number", map[string]string{"DB_MAX_CONNS": "ten"}, nil, `DB_MAX_CONNS="ten" is not a positive whole number`},
		{"DB_MAX_IDLE_CONNS fractional", map[string]string{"DB_MAX_IDLE_CONNS": "1.5"}, nil, `DB_MAX_IDLE_CONNS="1.5" is not a positive whole number`},
		{"DB_MAX_IDLE_CONNS of 0", map[string]string{"DB_MAX_IDLE_CONNS": "0"}, nil, `DB_MAX_IDLE_CONNS="0" is not a positive whole number`},
		{"DB_CONN_MAX_LIFETIME without a unit", map[string]string{"DB_CONN_MAX_LIFETIME": "30"}, nil, `DB_CONN_MAX_LIFETIME="30" is not a positive duration such as 30m`},
		{"DB_CONN_MAX_LIFETIME of 0s", map[string]string{"DB_CONN_MAX_LIFETIME": "0s"}, nil, `DB_CONN_MAX_LIFETIME="0s" is not a positive duration such as 30m`},
		{"DB_CONN_MAX_LIFETIME negative", map[string]string{"DB_CONN_MAX_LIFETIME": "-1m"}, nil, `DB_CONN_MAX_LIFETIME="-1m" is not a positive duration such as 30m`},
		{"PORT out of range", map[string]string{"PORT": "70000"}, nil, `PORT="70000" is not a port number`},
		{"PORT not a number", map[string]string{"PORT": "http"}, nil, `PORT="http" is not a port number`},
		{"GRAPHQL_INTROSPECTION not a boolean", map[string]string{"GRAPHQL_INTROSPECTION": "maybe"}, nil, `GRAPHQL_INTROSPECTION="maybe" is not true or false`},
		{"SHUTDOWN_TIMEOUT not a duration", map[string]string{"SHUTDOWN_TIMEOUT": "later"}, nil, `SHUTDOWN_TIMEOUT="later" is not a positive duration such as 15s`},
		{"LOG_LEVEL unknown", map[string]string{"LOG_LEVEL": "loud"}, nil, `LOG_LEVEL="loud" is not debug, info, warn or error`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unsetConfig(t, tt.env)
			cfg, err := loadConfig()
			if checkError(t, err, tt.wantErr) && !tt.check(cfg) {
				t.Fatalf("got %+v", cfg)
			}
		})
	}
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

// routes offers no way to plug in a handler of one's own; a request whose context panics
// makes its endpoints panic, which shows that routes puts them inside the recovery.
func TestRoutesRecoverPanicsOutsideResolvers(t *testing.T) {
	h, logs := testRoutes(t, "sqlite::memory:", config{})
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

func TestAccessLogLineCarriesOperationStatusDurationAndRequestID(t *testing.T) {
	h, logs := testRoutes(t, "sqlite::memory:", config{})
	tests := []struct {
		name          string
		request       func() *http.Request
		wantPath      string
		wantOperation string
		wantStatus    int
	}{
		{"a named query", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"query Shops { stores { totalCount } }"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, "/graphql", "Shops", http.StatusOK},
		{"a refused request", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"query Shops { stores { totalCount } }"}`))
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, "/graphql", "", http.StatusUnsupportedMediaType},
		{"not GraphQL", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/healthz", nil) }, "/healthz", "", http.StatusOK},
		{"a long operation name is cut", func() *http.Request {
			name := strings.Repeat("N", 5000)
			r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"query `+name+` { stores { totalCount } }"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, "/graphql", strings.Repeat("N", 100) + "…", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			r := tt.request()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			var request map[string]any
			for _, line := range logLines(t, logs.String()) {
				if line["msg"] == "request" {
					if request != nil {
						t.Fatalf("two access log lines:\n%s", logs)
					}
					request = line
				}
			}
			if request == nil {
				t.Fatalf("no access log line:\n%s", logs)
			}
			duration, ok := request["duration_ms"].(float64)
			if !ok || duration < 0 {
				t.Fatalf("duration_ms = %v, want a non-negative number", request["duration_ms"])
			}
			if id := rec.Header().Get(requestIDHeader); id == "" || request["request_id"] != id {
				t.Fatalf("request_id = %v, want the response's X-Request-ID %q", request["request_id"], id)
			}
			got := [4]any{request["method"], request["path"], request["operation"], request["status"]}
			want := [4]any{r.Method, tt.wantPath, tt.wantOperation, float64(tt.wantStatus)}
			if got != want {
				t.Fatalf("method, path, operation, status = %v, want %v\n%s", got, want, logs)
			}
		})
	}
}
