package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/storegraph/storegraph/storage"
)

// testRoutes returns the server's handler over a fresh, migrated database, and the buffer
// that receives its JSON logs (debug level, so that every SQL statement is logged too).
func testRoutes(t testing.TB, databaseURL string, cfg config) (http.Handler, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(requestIDHandler{slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})})
	db, err := storage.Open(context.Background(), databaseURL, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	logs.Reset() // keep only what requests log
	if cfg.requestTimeout == 0 {
		cfg.requestTimeout = 10e9
	}
	return routes(cfg, db, log), logs
}

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
