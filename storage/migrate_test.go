package storage_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

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

// Accounts came after the catalogue: the stores made before them keep working, owned by
// nobody, and reverting accounts keeps the stores while dropping their owners.
func TestAccountsMigrationKeepsEarlierStoresUnowned(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		accounts := migrations.All(string(db.Dialect()))[2]
		if accounts.Version != 20261201010000 {
			t.Fatalf("third migration is %d, want the accounts one", accounts.Version)
		}
		rollbackThrough(t, db, accounts.Version)
		// The catalogue before accounts, written as a release of that time would.
		for _, sql := range []string{
			"INSERT INTO stores (name, name_key, created_at, updated_at) VALUES ('Old Shop', 'old shop', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
			"INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at) SELECT id, 'Old Thing', 'old thing', 100, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM stores",
		} {
			if err := db.ExecForTest(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}

		page, err := db.ListStores(ctx, storage.StoreFilter{}, storage.Order{}, storage.PageArgs{})
		if err != nil || len(page.Rows) != 1 || page.Rows[0].Name != "Old Shop" || page.Rows[0].OwnerID != nil {
			t.Fatalf("stores after migrating = %+v (%v), want Old Shop with no owner", page.Rows, err)
		}
		old := page.Rows[0]
		u := mustUser(t, db, "late@example.com")
		if _, err := db.UpdateStore(ctx, storage.Actor{UserID: u.ID}, old.ID, "Mine Now"); !errors.Is(err, storage.ErrForbidden) {
			t.Fatalf("a user renaming the unowned store: %v, want forbidden", err)
		}
		if _, err := db.UpdateStore(ctx, asAdmin, old.ID, "Renamed Old Shop"); err != nil {
			t.Fatalf("an admin renaming it: %v", err)
		}

		// A deleted account leaves its stores to nobody, and takes its sessions with it.
		owned := mustOwnedStore(t, db, storage.Actor{UserID: u.ID}, "Late Shop")
		s := mustSession(t, db, u.ID, "late-token", time.Now().Add(time.Hour))
		if err := db.ExecForTest(ctx, fmt.Sprintf("DELETE FROM users WHERE id = %d", u.ID)); err != nil {
			t.Fatal(err)
		}
		if got, err := db.GetStore(ctx, owned.ID); err != nil || got.OwnerID != nil {
			t.Fatalf("store of the deleted user = %+v (%v), want it kept, owned by nobody", got, err)
		}
		if _, _, active, err := db.SessionState(ctx, s.ID, time.Now()); err != nil || active {
			t.Fatalf("session of the deleted user: active %v (%v), want gone", active, err)
		}
		if _, err := db.RotateRefreshToken(ctx, "late-token", "next", time.Now(), time.Now().Add(time.Hour)); !errors.Is(err, storage.ErrSessionEnded) {
			t.Fatalf("token of the deleted user: %v, want ErrSessionEnded", err)
		}

		// Reverting drops the accounts and the owner column, not the stores or their items.
		mustOwnedStore(t, db, storage.Actor{UserID: mustUser(t, db, "again@example.com").ID}, "Owned When Reverted")
		rollbackThrough(t, db, accounts.Version)
		for _, sql := range []string{"SELECT owner_id FROM stores", "SELECT 1 FROM users", "SELECT 1 FROM sessions", "SELECT 1 FROM refresh_tokens", "SELECT 1 FROM settings"} {
			if err := db.ExecForTest(ctx, sql); err == nil {
				t.Errorf("%s works after reverting accounts", sql)
			}
		}
		if n, err := db.CountStores(ctx, storage.StoreFilter{}); err != nil || n != 3 {
			t.Fatalf("stores after reverting = %d (%v), want all 3", n, err)
		}
		if n, err := db.CountItems(ctx, storage.ItemFilter{}); err != nil || n != 1 {
			t.Fatalf("items after reverting = %d (%v), want 1", n, err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrate again: %v", err)
		}
		page, err = db.ListStores(ctx, storage.StoreFilter{}, storage.Order{}, storage.PageArgs{})
		if err != nil || len(page.Rows) != 3 || page.Rows[0].OwnerID != nil || page.Rows[1].OwnerID != nil || page.Rows[2].OwnerID != nil {
			t.Fatalf("stores after migrating again = %+v (%v), want 3, owned by nobody", page.Rows, err)
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
	20261201010000: {
		Migration: storage.Migration{Version: 20261201010000, Name: "create users and sessions"},
		Removes: []storage.Removal{
			{Kind: "table", Name: "settings", Rows: 1},
			{Kind: "table", Name: "refresh_tokens", Rows: 1},
			{Kind: "table", Name: "sessions", Rows: 1},
			{Kind: "index", Name: "stores_owner_id_id", Table: "stores", Rows: -1},
			{Kind: "column", Name: "stores.owner_id", Rows: 2},
			{Kind: "table", Name: "users", Rows: 1},
		},
	},
}

func TestPlanRollbackSaysWhatDownRemoves(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		u := mustUser(t, db, "plan@example.com")
		mustSession(t, db, u.ID, "plan-token", time.Now().Add(time.Hour))
		if _, err := db.SigningKey(ctx); err != nil {
			t.Fatal(err)
		}
		a, b := mustOwnedStore(t, db, storage.Actor{UserID: u.ID}, "Plan A"), mustStore(t, db, "Plan B")
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

// rollbackThrough reverts the migrations newer than version, then version itself.
func rollbackThrough(t *testing.T, db *storage.DB, version int) {
	t.Helper()
	for {
		plan, ok, err := db.PlanRollback(context.Background())
		if err != nil || !ok || plan.Version < version {
			t.Fatalf("rolling back to before %d: plan %+v, ok %v, %v", version, plan.Migration, ok, err)
		}
		if err := db.Revert(context.Background(), plan.Migration); err != nil {
			t.Fatalf("revert %d: %v", plan.Version, err)
		}
		if plan.Version == version {
			return
		}
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
