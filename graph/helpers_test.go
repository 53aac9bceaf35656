package graph

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/storegraph/storegraph/auth"
	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/dbtest"
)

// discardLog is a logger whose output the tests do not look at.
func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestDB opens the database at url and migrates it; it is closed when tb ends.
func newTestDB(tb testing.TB, url string) *storage.DB {
	tb.Helper()
	return dbtest.Open(tb, url, discardLog())
}

// newTestHandler is the GraphQL endpoint on an empty in-memory database.
func newTestHandler(tb testing.TB, opts Options) http.Handler {
	tb.Helper()
	return NewHandler(newTestDB(tb, "sqlite::memory:"), discardLog(), opts)
}

// admin is a principal that may change anything: what tests that write but are not about
// authorization act as.
var admin = auth.Principal{UserID: 0, SessionID: 0, Admin: true}

// as serves h's requests as signed in as p, as the HTTP edge's bearer check would.
func as(p auth.Principal, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// testAccounts signs in with argon2id parameters small enough for tests, and tokens
// signed with a fixed key; the limiters are off.
func testAccounts(tb testing.TB, params auth.Params) Accounts {
	tb.Helper()
	tokens, err := auth.NewTokens([]byte("graph-test-key-graph-test-key-32"), 15*time.Minute)
	if err != nil {
		tb.Fatal(err)
	}
	return Accounts{
		Hasher:     auth.NewHasher(params, 2),
		Tokens:     tokens,
		RefreshTTL: time.Hour,
		Sessions:   auth.NewSessionCache(time.Second, 100, func(context.Context, int64) (auth.SessionState, error) { return auth.SessionState{}, nil }),
	}
}

// adminActor writes test data straight into storage.
var adminActor = storage.Actor{Admin: true}
