package storage_test

import (
	"context"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/storage"
)

func TestMigrateUpDownStatus(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		mustStore(t, db, "Before Rollback")

		check := func(step string, wantApplied bool) {
			t.Helper()
			status, err := db.MigrationStatus(ctx)
			if err != nil {
				t.Fatalf("%s: status: %v", step, err)
			}
			if len(status) == 0 {
				t.Fatalf("%s: no migrations listed", step)
			}
			for _, m := range status {
				if m.Applied != wantApplied {
					t.Fatalf("%s: migration %d applied = %v, want %v", step, m.Version, m.Applied, wantApplied)
				}
			}
		}

		check("after migrate", true)
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		check("after second migrate", true)

		if err := db.Rollback(ctx); err != nil {
			t.Fatalf("rollback: %v", err)
		}
		check("after rollback", false)
		if _, err := db.CountStores(ctx, storage.StoreFilter{}); err == nil {
			t.Fatal("stores table still there after rollback")
		}

		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrate again: %v", err)
		}
		check("after migrating again", true)
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
