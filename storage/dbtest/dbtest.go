// Package dbtest opens migrated databases for tests: storage's own, and those of the packages
// built on it. (storagetest, which makes the empty databases, cannot import storage: storage's
// internal tests import it.)
package dbtest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// Open opens the database at url and migrates it; it is closed when tb ends.
func Open(tb testing.TB, url string, log *slog.Logger) *storage.DB {
	tb.Helper()
	db, err := storage.Open(context.Background(), url, log)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return db
}

// ForEachBackend runs test once per real database, in parallel, each fresh and migrated.
func ForEachBackend(t *testing.T, log *slog.Logger, test func(t *testing.T, db *storage.DB)) {
	t.Helper()
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			test(t, Open(t, b.New(t), log))
		})
	}
}
