package storage_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// change is what an event says changed, without its snapshot and time.
type change struct {
	Entity, Kind   string
	RowID, StoreID int64
	PrevStoreID    *int64
}

func changesOf(events []storage.Event) []change {
	out := make([]change, len(events))
	for i, e := range events {
		out[i] = change{e.Entity, e.Kind, e.RowID, e.StoreID, e.PrevStoreID}
	}
	return out
}

// stampAll stamps until nothing is pending.
func stampAll(t testing.TB, db *storage.DB) {
	t.Helper()
	waitFor(t, "every event stamped", func() bool {
		pending, err := db.StampEvents(context.Background())
		if err != nil {
			t.Fatalf("stamp: %v", err)
		}
		return !pending
	})
}

// eventsAfter stamps what there is and returns every event after seq after.
func eventsAfter(t testing.TB, db *storage.DB, after int64) []storage.Event {
	t.Helper()
	stampAll(t, db)
	events, err := db.ReadEvents(context.Background(), after, 100000)
	if err != nil {
		t.Fatalf("read events after %d: %v", after, err)
	}
	return events
}

func latestSeq(t testing.TB, db *storage.DB) int64 {
	t.Helper()
	n, err := db.LatestEventSeq(context.Background())
	if err != nil {
		t.Fatalf("latest event: %v", err)
	}
	return n
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for wait := time.Millisecond; !cond(); wait = min(2*wait, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(wait)
	}
}

func TestEventsRecordEveryChangeOfStoresAndItems(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		var a, b *storage.Store
		var moved, y, z *storage.Item
		for _, step := range []struct {
			name string
			do   func(t *testing.T) []change
		}{
			{"create store", func(t *testing.T) []change {
				a = mustStore(t, db, "Corner Shop")
				return []change{{"Store", "CREATED", a.ID, a.ID, nil}}
			}},
			{"rename store", func(t *testing.T) []change {
				if _, err := db.UpdateStore(ctx, asAdmin, a.ID, "Corner Shop 2"); err != nil {
					t.Fatal(err)
				}
				return []change{{"Store", "UPDATED", a.ID, a.ID, nil}}
			}},
			{"create item", func(t *testing.T) []change {
				moved = mustItem(t, db, a.ID, "Lamp", 1.5)
				return []change{{"Item", "CREATED", moved.ID, a.ID, nil}}
			}},
			{"update item", func(t *testing.T) []change {
				if _, err := db.UpdateItem(ctx, asAdmin, moved.ID, storage.ItemPatch{Price: ptr(2.5)}); err != nil {
					t.Fatal(err)
				}
				return []change{{"Item", "UPDATED", moved.ID, a.ID, nil}}
			}},
			{"move item to another store", func(t *testing.T) []change {
				b = mustStore(t, db, "Other Shop")
				if _, err := db.UpdateItem(ctx, asAdmin, moved.ID, storage.ItemPatch{StoreID: &b.ID}); err != nil {
					t.Fatal(err)
				}
				return []change{{"Store", "CREATED", b.ID, b.ID, nil}, {"Item", "UPDATED", moved.ID, b.ID, &a.ID}}
			}},
			{"delete item", func(t *testing.T) []change {
				if err := db.DeleteItem(ctx, asAdmin, moved.ID); err != nil {
					t.Fatal(err)
				}
				return []change{{"Item", "DELETED", moved.ID, b.ID, nil}}
			}},
			{"delete store with items", func(t *testing.T) []change {
				y, z = mustItem(t, db, a.ID, "Y", 1), mustItem(t, db, a.ID, "Z", 2)
				if err := db.DeleteStore(ctx, asAdmin, a.ID); err != nil {
					t.Fatal(err)
				}
				// The store goes first, then its items, on both databases.
				return []change{
					{"Item", "CREATED", y.ID, a.ID, nil}, {"Item", "CREATED", z.ID, a.ID, nil},
					{"Store", "DELETED", a.ID, a.ID, nil},
					{"Item", "DELETED", y.ID, a.ID, nil}, {"Item", "DELETED", z.ID, a.ID, nil},
				}
			}},
		} {
			t.Run(step.name, func(t *testing.T) {
				stampAll(t, db)
				before := latestSeq(t, db)
				want := step.do(t)
				got := eventsAfter(t, db, before)
				if !reflect.DeepEqual(changesOf(got), want) {
					t.Fatalf("events:\n got %+v\nwant %+v", changesOf(got), want)
				}
				for i, e := range got {
					if e.Seq != before+int64(i)+1 {
						t.Errorf("event %d has seq %d, want %d", i, e.Seq, before+int64(i)+1)
					}
					hasRow := e.Store != nil || e.Item != nil
					if hasRow == (e.Kind == storage.KindDeleted) || (e.Store != nil) != (e.Entity == storage.EntityStore && hasRow) {
						t.Errorf("event %+v: store %v, item %v; want the %s's row unless deleted", e, e.Store, e.Item, e.Entity)
					}
				}
			})
		}
	})
}

// Each snapshot is the row as GetStore or GetItem read it right after the change: the same
// names, ids, owner and times to the microsecond, in UTC.
func TestEventSnapshotsAreTheRowsGetStoreAndGetItemRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		owner := mustUser(t, db, "owner@example.com")
		actor := storage.Actor{UserID: owner.ID}
		var store *storage.Store
		var item *storage.Item
		for _, step := range []struct {
			name  string
			write func(t *testing.T) (storeID, itemID int64)
		}{
			{"unowned store created", func(t *testing.T) (int64, int64) {
				return mustStore(t, db, "Nobody's").ID, 0
			}},
			{"owned store created", func(t *testing.T) (int64, int64) {
				store = mustOwnedStore(t, db, actor, "Somebody's")
				return store.ID, 0
			}},
			{"store renamed", func(t *testing.T) (int64, int64) {
				if _, err := db.UpdateStore(ctx, actor, store.ID, "Somebody's Café"); err != nil {
					t.Fatal(err)
				}
				return store.ID, 0
			}},
			{"item created", func(t *testing.T) (int64, int64) {
				var err error
				if item, err = db.CreateItem(ctx, actor, storage.ItemInput{Name: "Ünïcode Lamp", Price: 99999999.99, StoreID: store.ID}); err != nil {
					t.Fatal(err)
				}
				return 0, item.ID
			}},
			{"item repriced", func(t *testing.T) (int64, int64) {
				if _, err := db.UpdateItem(ctx, actor, item.ID, storage.ItemPatch{Price: ptr(0.01)}); err != nil {
					t.Fatal(err)
				}
				return 0, item.ID
			}},
		} {
			t.Run(step.name, func(t *testing.T) {
				stampAll(t, db)
				before := latestSeq(t, db)
				start := time.Now().UTC().Truncate(time.Millisecond)
				storeID, itemID := step.write(t)
				end := time.Now().UTC()
				events := eventsAfter(t, db, before)
				if len(events) != 1 {
					t.Fatalf("events = %+v, want one", changesOf(events))
				}
				e := events[0]
				if e.At.Location() != time.UTC || e.At.Before(start) || e.At.After(end) {
					t.Errorf("at = %v, want a UTC time in [%v, %v]", e.At, start, end)
				}
				if storeID != 0 {
					want, err := db.GetStore(ctx, storeID)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(e.Store, want) || e.Item != nil {
						t.Errorf("snapshot = %+v, item %+v; want %+v", e.Store, e.Item, want)
					}
				}
				if itemID != 0 {
					want, err := db.GetItem(ctx, itemID)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(e.Item, want) || e.Store != nil {
						t.Errorf("snapshot = %+v, store %+v; want %+v", e.Item, e.Store, want)
					}
				}
			})
		}
	})
}

func TestReadEventsPagesInSeqOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		for i := range 5 {
			mustStore(t, db, fmt.Sprint("Store ", i))
		}
		stampAll(t, db)
		if got := latestSeq(t, db); got != 5 {
			t.Fatalf("latest seq = %d, want 5", got)
		}
		for _, tc := range []struct {
			after int64
			limit int
			want  []int64
		}{
			{0, 2, []int64{1, 2}},
			{2, 2, []int64{3, 4}},
			{4, 2, []int64{5}},
			{5, 2, nil},
			{0, 100, []int64{1, 2, 3, 4, 5}},
			{3, 1, []int64{4}},
		} {
			events, err := db.ReadEvents(context.Background(), tc.after, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, e := range events {
				got = append(got, e.Seq)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("after %d, limit %d: seqs %v, want %v", tc.after, tc.limit, got, tc.want)
			}
		}
		if _, err := db.ReadEvents(context.Background(), 0, 0); err == nil {
			t.Error("limit 0 accepted")
		}
	})
}

// EventsWaiting tells a reader at a position whether the log holds more for it: stamped
// events after it, or committed ones still to be stamped. An uncommitted change is not
// waiting: the reader could not read it yet.
func TestEventsWaitingSaysWhetherTheLogHoldsMoreThanAPosition(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		waiting := func(after int64) bool {
			t.Helper()
			w, err := db.EventsWaiting(ctx, after)
			if err != nil {
				t.Fatalf("events waiting after %d: %v", after, err)
			}
			return w
		}
		if waiting(0) {
			t.Fatal("an empty log has events waiting after 0")
		}

		tx, err := db.Pool().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO stores (name, name_key, created_at, updated_at) VALUES ('Open', 'open', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"); err != nil {
			t.Fatal(err)
		}
		if waiting(0) {
			t.Error("a change not committed yet is waiting")
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if !waiting(0) {
			t.Error("a committed change, not stamped yet on Postgres, is not waiting")
		}

		stampAll(t, db)
		mustStore(t, db, "Second")
		stampAll(t, db)
		for _, tc := range []struct {
			after int64
			want  bool
		}{{0, true}, {1, true}, {2, false}, {3, false}} {
			if got := waiting(tc.after); got != tc.want {
				t.Errorf("waiting after %d = %v, want %v", tc.after, got, tc.want)
			}
		}
	})
}

// A write that fails or is rolled back records nothing, and leaves no hole in the seqs.
func TestRolledBackWritesLeaveNoEvent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		taken := mustStore(t, db, "Taken")
		other := mustStore(t, db, "Other")
		stampAll(t, db)
		before := latestSeq(t, db)

		tx, err := db.Pool().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO stores (name, name_key, created_at, updated_at) VALUES ('Rolled Back', 'rolled back', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateStore(ctx, asAdmin, "taken"); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("duplicate create: %v, want a conflict", err)
		}
		if _, err := db.UpdateStore(ctx, asAdmin, other.ID, "TAKEN"); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("rename to a taken name: %v, want a conflict", err)
		}
		kept := mustItem(t, db, taken.ID, "Kept", 1)

		got := eventsAfter(t, db, before)
		if want := []change{{"Item", "CREATED", kept.ID, taken.ID, nil}}; !reflect.DeepEqual(changesOf(got), want) {
			t.Fatalf("events = %+v, want %+v", changesOf(got), want)
		}
		if got[0].Seq != before+1 {
			t.Errorf("seq = %d, want %d", got[0].Seq, before+1)
		}
	})
}

func TestStampEventsOnSQLiteHasNothingToDo(t *testing.T) {
	db := openMigrated(t, "sqlite:"+t.TempDir()+"/stamp.db")
	mustStore(t, db, "Stamped Already")
	pending, err := db.StampEvents(context.Background())
	if err != nil || pending {
		t.Fatalf("stamp = %v, %v; want false, nil", pending, err)
	}
	if got := latestSeq(t, db); got != 1 {
		t.Errorf("latest seq = %d, want 1", got)
	}
}

// to_jsonb writes a timestamptz in the session's time zone; the snapshot still reads as
// GetStore does, in UTC.
func TestEventSnapshotsReadTheSameInAnySessionTimeZone(t *testing.T) {
	u, err := url.Parse(storagetest.NewPostgres(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("timezone", "Asia/Kathmandu") // +05:45
	u.RawQuery = q.Encode()
	db := openMigrated(t, u.String())
	s := mustStore(t, db, "Far East")
	events := eventsAfter(t, db, 0)
	want, err := db.GetStore(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || !reflect.DeepEqual(events[0].Store, want) {
		t.Fatalf("events = %+v, want one with %+v", events, want)
	}
}

// revertNewest reverts the newest migration applied, which must be version.
func revertNewest(tb testing.TB, db *storage.DB, version int) {
	tb.Helper()
	ctx := context.Background()
	plan, _, err := db.PlanRollback(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if plan.Version != version {
		tb.Fatalf("newest migration is %+v, want %d", plan.Migration, version)
	}
	if err := db.Revert(ctx, plan.Migration); err != nil {
		tb.Fatal(err)
	}
}

// Reverting the event log (after the stamping function's versions, which depend on it)
// removes its triggers (and on Postgres their functions) with its tables: writes go on as
// before it, and migrating again records them again.
func TestEventLogMigrationReverts(t *testing.T) {
	leftovers := map[storage.Dialect]string{
		storage.Postgres: `SELECT (SELECT count(*) FROM pg_trigger JOIN pg_class c ON c.oid = tgrelid
			JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = current_schema() AND NOT tgisinternal)
			+ (SELECT count(*) FROM pg_proc JOIN pg_namespace ns ON ns.oid = pronamespace WHERE ns.nspname = current_schema())`,
		storage.SQLite: "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'",
	}
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s := mustStore(t, db, "Logged")
		for _, version := range []int{20261202050000, 20261202010000} { // the stamper's, newest first
			revertNewest(t, db, version)
		}
		plan, _, err := db.PlanRollback(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if plan.Version != 20261201020000 {
			t.Fatalf("newest migration is %+v, want the event log", plan.Migration)
		}
		tables := plan.Removes[len(plan.Removes)-2:]
		if want := []storage.Removal{{Kind: "table", Name: "events", Rows: 1}, {Kind: "table", Name: "event_clock", Rows: 1}}; !reflect.DeepEqual(tables, want) {
			t.Errorf("the plan drops %+v, want %+v", tables, want)
		}
		if err := db.Revert(ctx, plan.Migration); err != nil {
			t.Fatal(err)
		}

		var n int
		if err := db.Pool().QueryRowContext(ctx, leftovers[db.Dialect()]).Scan(&n); err != nil || n != 0 {
			t.Errorf("triggers and functions left: %d (%v), want 0", n, err)
		}
		for _, sql := range []string{"SELECT 1 FROM events", "SELECT 1 FROM event_clock"} {
			if err := db.ExecForTest(ctx, sql); err == nil {
				t.Errorf("%s works after reverting the event log", sql)
			}
		}
		if _, err := db.UpdateStore(ctx, asAdmin, s.ID, "Unlogged"); err != nil {
			t.Fatalf("write without the event log: %v", err)
		}
		it := mustItem(t, db, s.ID, "Unlogged Thing", 1)
		if err := db.DeleteStore(ctx, asAdmin, s.ID); err != nil {
			t.Fatalf("delete without the event log: %v", err)
		}

		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		again := mustStore(t, db, "Logged Again")
		if got := changesOf(eventsAfter(t, db, 0)); !reflect.DeepEqual(got, []change{{"Store", "CREATED", again.ID, again.ID, nil}}) {
			t.Errorf("events after migrating again = %+v, want only the new store's (item %d was never logged)", got, it.ID)
		}
	})
}
