package storage_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/migrations"
	"github.com/storegraph/storegraph/storage/storagetest"
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

// releasedRollbacks is what reverting each released migration removes. A released migration
// is never edited, so these stay true as versions are added.
var releasedRollbacks = map[int]storage.RollbackPlan{
	20261128010000: {
		Migration: storage.Migration{Version: 20261128010000, Name: "create stores and items"},
		// Rows as TestPlanRollbackSaysWhatDownRemoves fills the tables.
		Removes: []storage.Removal{
			{Kind: "table", Name: "items", Rows: 3},
			{Kind: "table", Name: "stores", Rows: 2},
		},
	},
	20261128020000: {
		Migration: storage.Migration{Version: 20261128020000, Name: "index the keyset orders"},
		Removes: []storage.Removal{
			{Kind: "index", Name: "items_store_id_name_key_id", Table: "items", Rows: -1},
			{Kind: "index", Name: "items_store_id_price_cents_id", Table: "items", Rows: -1},
			{Kind: "index", Name: "items_store_id_created_at_id", Table: "items", Rows: -1},
			{Kind: "index", Name: "items_name_key_id", Table: "items", Rows: -1},
			{Kind: "index", Name: "items_price_cents_id", Table: "items", Rows: -1},
			{Kind: "index", Name: "items_created_at_id", Table: "items", Rows: -1},
			{Kind: "index", Name: "stores_name_key_id", Table: "stores", Rows: -1},
			{Kind: "index", Name: "stores_created_at_id", Table: "stores", Rows: -1},
		},
	},
}

func TestPlanRollbackSaysWhatDownRemoves(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		a, b := mustStore(t, db, "Plan A"), mustStore(t, db, "Plan B")
		mustItem(t, db, a.ID, "One", 1)
		mustItem(t, db, a.ID, "Two", 2)
		mustItem(t, db, b.ID, "Three", 3)

		// Newest first, each plan names the newest applied migration and changes nothing;
		// reverting it makes the next one the newest.
		all := migrations.All(string(db.Dialect()))
		for i := len(all) - 1; i >= 0; i-- {
			plan, ok, err := db.PlanRollback(ctx)
			if err != nil || !ok {
				t.Fatalf("plan with %d applied: ok %v, %v", i+1, ok, err)
			}
			if want := (storage.Migration{Version: all[i].Version, Name: all[i].Name}); plan.Migration != want {
				t.Fatalf("plan reverts %+v, want the newest applied %+v", plan.Migration, want)
			}
			if want, released := releasedRollbacks[plan.Version]; released && !reflect.DeepEqual(plan, want) {
				t.Errorf("plan of %d:\n got %+v\nwant %+v", plan.Version, plan, want)
			}
			if got := appliedCount(t, db); got != i+1 {
				t.Fatalf("after planning: %d applied, want %d (planning changed something)", got, i+1)
			}
			if err := db.Revert(ctx, plan.Migration); err != nil {
				t.Fatalf("revert %d: %v", plan.Version, err)
			}
		}

		if plan, ok, err := db.PlanRollback(ctx); err != nil || ok {
			t.Errorf("plan with nothing applied = %+v, ok %v, %v; want ok false", plan, ok, err)
		}
	})
}

func TestRevertRefusesAMigrationNoLongerNewest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		plan, _, err := db.PlanRollback(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Revert(ctx, plan.Migration); err != nil {
			t.Fatal(err)
		}
		older, _, err := db.PlanRollback(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Another process migrates between the plan and the person's yes.
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		err = db.Revert(ctx, older.Migration)
		if err == nil || !strings.Contains(err.Error(), "is no longer the newest applied one") {
			t.Fatalf("revert of a stale plan: %v, want a refusal", err)
		}
		if got, want := appliedCount(t, db), len(migrations.All(string(db.Dialect()))); got != want {
			t.Errorf("after the refusal: %d applied, want all %d", got, want)
		}
	})
}

func TestPlanRollbackRefusesAnUnknownVersion(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if err := db.ExecForTest(ctx, "INSERT INTO rel_schema_versions (version, created_at, updated_at) VALUES (99990101000000, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"); err != nil {
			t.Fatal(err)
		}
		_, _, err := db.PlanRollback(ctx)
		want := "the database has migration 99990101000000, which this build does not know (migrated by a newer release?)"
		if err == nil || err.Error() != want {
			t.Fatalf("error = %v, want %q", err, want)
		}
	})
}

func TestApplyMigrationsReturnsWhatItApplied(t *testing.T) {
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := storage.Open(ctx, b.New(t), discardLog)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var all []storage.Migration
			for _, m := range migrations.All(string(db.Dialect())) {
				all = append(all, storage.Migration{Version: m.Version, Name: m.Name})
			}

			for _, step := range []struct {
				name   string
				before func() error
				want   []storage.Migration
			}{
				{"fresh database", func() error { return nil }, all},
				{"nothing pending", func() error { return nil }, nil},
				{"after one rollback", func() error { return db.Rollback(ctx) }, all[len(all)-1:]},
			} {
				if err := step.before(); err != nil {
					t.Fatalf("%s: %v", step.name, err)
				}
				got, err := db.ApplyMigrations(ctx)
				if err != nil || !slices.Equal(got, step.want) {
					t.Errorf("%s: applied %+v (%v), want %+v", step.name, got, err, step.want)
				}
			}
		})
	}
}

// appliedCount is how many migrations db has applied.
func appliedCount(t *testing.T, db *storage.DB) int {
	t.Helper()
	status, err := db.MigrationStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range status {
		if m.Applied {
			n++
		}
	}
	return n
}
