package graph

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/storegraph/storegraph/storage"
)

// discardLog is a logger whose output the tests do not look at.
func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestDB opens the database at url and migrates it; it is closed when tb ends.
func newTestDB(tb testing.TB, url string) *storage.DB {
	tb.Helper()
	db, err := storage.Open(context.Background(), url, discardLog())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

// newTestHandler is the GraphQL endpoint on an empty in-memory database.
func newTestHandler(tb testing.TB, opts Options) http.Handler {
	tb.Helper()
	return NewHandler(newTestDB(tb, "sqlite::memory:"), discardLog(), opts)
}
