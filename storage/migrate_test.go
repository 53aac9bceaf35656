package storage_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/storage"
)

func TestMigrateUpDownStatus(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		mustStore(t, db, "Before Rollback")

		// applied reports which migrations are applied, oldest first.
		applied := func() []bool {
			t.Helper()
			status, err := db.MigrationStatus(ctx)
			if err != nil {
				t.Fatalf("status: %v", err)
			}
			out := make([]bool, len(status))
			for i, m := range status {
				out[i] = m.Applied
			}
			return out
		}
		all := applied()
		if len(all) < 2 || slices.Contains(all, false) {
			t.Fatalf("after migrate: applied = %v, want all", all)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}

		// Each rollback reverts only the newest applied migration.
		for n := len(all) - 1; n >= 0; n-- {
			if err := db.Rollback(ctx); err != nil {
				t.Fatalf("rollback: %v", err)
			}
			want := make([]bool, len(all))
			for i := range n {
				want[i] = true
			}
			if got := applied(); !slices.Equal(got, want) {
				t.Fatalf("after rollback to %d: applied = %v, want %v", n, got, want)
			}
		}
		if _, err := db.CountStores(ctx, storage.StoreFilter{}); err == nil {
			t.Fatal("stores table still there after rolling everything back")
		}

		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrate again: %v", err)
		}
		if n, err := db.CountStores(ctx, storage.StoreFilter{}); err != nil || n != 0 {
			t.Fatalf("stores after re-migrate = %d (%v), want an empty table", n, err)
		}
	})
}

func TestMigrateReportsErrorsInsteadOfPanicking(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		// A version this binary does not know: a database migrated by a newer release.
		if err := db.ExecForTest(ctx, "INSERT INTO rel_schema_versions (version, created_at, updated_at) VALUES (99990101000000, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"); err != nil {
			t.Fatal(err)
		}
		err := db.Migrate(ctx)
		if err == nil || !strings.Contains(err.Error(), "missing local migration: 99990101000000") {
			t.Fatalf("error = %v, want a missing-migration error", err)
		}
	})
}

func TestStatusOfAFreshDatabaseChangesNothing(t *testing.T) {
	for _, url := range []string{"sqlite::memory:", "sqlite:" + t.TempDir() + "/fresh.db"} {
		t.Run(url, func(t *testing.T) {
			db, err := storage.Open(context.Background(), url, discardLog)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			status, err := db.MigrationStatus(context.Background())
			if err != nil || len(status) == 0 || status[0].Applied {
				t.Fatalf("status = %+v (%v), want all pending", status, err)
			}
			if _, err := db.CountStores(context.Background(), storage.StoreFilter{}); err == nil {
				t.Fatal("status created the tables")
			}
		})
	}
}
