package storage_test

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// insertStore adds a store inside tx, leaving it uncommitted, and returns its id.
func insertStore(t *testing.T, tx *sql.Tx, name string) int64 {
	t.Helper()
	var id int64
	err := tx.QueryRowContext(context.Background(),
		"INSERT INTO stores (name, name_key, created_at, updated_at) VALUES ($1, $2, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id", name, strings.ToLower(name)).Scan(&id)
	if err != nil {
		t.Fatalf("insert store %q: %v", name, err)
	}
	return id
}

// Events are stamped once their transaction has committed, whatever else still runs: a
// transaction left open holds back no one's events but its own, which follow once it
// commits, and nothing waits for it.
func TestOpenTransactionHoldsBackOnlyItsOwnEvents(t *testing.T) {
	ctx := context.Background()
	db := openMigrated(t, storagetest.NewPostgres(t))
	openTx, err := db.Pool().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = openTx.Rollback() })
	open := insertStore(t, openTx, "Open")
	writeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	later, err := db.CreateStore(writeCtx, asAdmin, "Later") // not held up by the open transaction
	if err != nil {
		t.Fatal(err)
	}

	pending, err := db.StampEvents(ctx)
	if err != nil || pending {
		t.Fatalf("stamp with a transaction open: pending %v, %v; want false, nil", pending, err)
	}
	if got, want := changesOf(eventsAfter(t, db, 0)), []change{{"Store", "CREATED", later.ID, later.ID, nil}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("events with Open's transaction running = %+v, want %+v", got, want)
	}

	if err := openTx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.StampEvents(ctx); err != nil {
		t.Fatal(err)
	}
	got := eventsAfter(t, db, 1)
	if want := []change{{"Store", "CREATED", open, open, nil}}; !reflect.DeepEqual(changesOf(got), want) || got[0].Seq != 2 {
		t.Fatalf("events after the commit = %+v, want seq 2 of %+v", got, want)
	}
}

// writerOp is one committed write of a writer, as its event will show it.
type writerOp struct {
	entity, kind string
	rowID        int64
	detail       string // the store's name, the item's price in cents, "" for a deletion
}

func opOf(e storage.Event) writerOp {
	op := writerOp{entity: e.Entity, kind: e.Kind, rowID: e.RowID}
	switch {
	case e.Store != nil:
		op.detail = e.Store.Name
	case e.Item != nil:
		op.detail = fmt.Sprint(e.Item.PriceCents)
	}
	return op
}

// While 32 writers change stores and items for two seconds, a reader stamps and reads the
// log: it sees consecutive seqs, every committed change exactly once, each writer's changes
// in the order it made them (each began after the previous one committed), and the contended
// store's changes in the order they took its row lock.
func TestConcurrentWritersChangesAreLoggedOnceInCommitOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		const writers = 32
		ctx := context.Background()
		shared := mustStore(t, db, "Shared")
		stampAll(t, db)
		base := latestSeq(t, db)

		var (
			done    atomic.Bool
			readErr = make(chan error, 1)
			logged  []storage.Event
		)
		go func() {
			readErr <- func() error {
				last := base
				deadline := time.Now().Add(time.Minute)
				for time.Now().Before(deadline) {
					finished := done.Load() // every write has committed
					pending, err := db.StampEvents(ctx)
					if err != nil {
						return err
					}
					page, err := db.ReadEvents(ctx, last, 500)
					if err != nil {
						return err
					}
					for _, e := range page {
						if e.Seq != last+1 {
							return fmt.Errorf("read seq %d after %d", e.Seq, last)
						}
						last = e.Seq
						logged = append(logged, e)
					}
					if finished && !pending && len(page) == 0 {
						return nil
					}
					if len(page) == 0 {
						time.Sleep(time.Millisecond)
					}
				}
				return fmt.Errorf("still reading after a minute, at seq %d", last)
			}()
		}()

		ops := make([][]writerOp, writers)
		var wg sync.WaitGroup
		end := time.Now().Add(2 * time.Second)
		for w := range writers {
			wg.Go(func() {
				fail := func(err error) { t.Errorf("writer %d: %v", w, err) }
				st, err := db.CreateStore(ctx, asAdmin, fmt.Sprint("Writer ", w))
				if err != nil {
					fail(err)
					return
				}
				ops[w] = append(ops[w], writerOp{"Store", "CREATED", st.ID, st.Name})
				for i := 0; time.Now().Before(end); i++ {
					it, err := db.CreateItem(ctx, asAdmin, storage.ItemInput{Name: "Thing", Price: 1, StoreID: st.ID})
					if err != nil {
						fail(err)
						return
					}
					ops[w] = append(ops[w], writerOp{"Item", "CREATED", it.ID, "100"})
					if _, err := db.UpdateItem(ctx, asAdmin, it.ID, storage.ItemPatch{Price: ptr(2.0)}); err != nil {
						fail(err)
						return
					}
					ops[w] = append(ops[w], writerOp{"Item", "UPDATED", it.ID, "200"})
					name := fmt.Sprintf("Shared %d-%d", w, i)
					if _, err := db.UpdateStore(ctx, asAdmin, shared.ID, name); err != nil {
						fail(err)
						return
					}
					ops[w] = append(ops[w], writerOp{"Store", "UPDATED", shared.ID, name})
					if err := db.DeleteItem(ctx, asAdmin, it.ID); err != nil {
						fail(err)
						return
					}
					ops[w] = append(ops[w], writerOp{"Item", "DELETED", it.ID, ""})
				}
			})
		}
		wg.Wait()
		done.Store(true)
		if err := <-readErr; err != nil {
			t.Fatal(err)
		}

		seqOf := make(map[writerOp]int64, len(logged))
		for _, e := range logged {
			op := opOf(e)
			if _, twice := seqOf[op]; twice {
				t.Errorf("%+v logged twice", op)
			}
			seqOf[op] = e.Seq
		}
		total := 0
		for w, mine := range ops {
			total += len(mine)
			prev := base
			for _, op := range mine {
				seq, ok := seqOf[op]
				switch {
				case !ok:
					t.Errorf("writer %d: %+v not logged", w, op)
				case seq <= prev:
					t.Errorf("writer %d: %+v at seq %d, after its previous change at %d", w, op, seq, prev)
				}
				prev = seq
			}
		}
		if len(logged) != total {
			t.Errorf("logged %d events for %d writes", len(logged), total)
		}
		final, err := db.GetStore(ctx, shared.ID)
		if err != nil {
			t.Fatal(err)
		}
		var lastName string
		for _, e := range logged {
			if e.Entity == storage.EntityStore && e.RowID == shared.ID {
				lastName = e.Store.Name
			}
		}
		if lastName != final.Name {
			t.Errorf("the shared store's last logged name is %q; it is %q", lastName, final.Name)
		}
		t.Logf("%d writers committed %d changes in 2s", writers, total)
	})
}

// The stamper scans from a bound under which every event is stamped (migration
// 20261202050000). The bound never passes the event of a transaction still open, however many
// passes run, and once that transaction has ended and its event is stamped, it moves past it.
func TestStampingBoundStopsAtAnOpenTransaction(t *testing.T) {
	ctx := context.Background()
	db := openMigrated(t, storagetest.NewPostgres(t))
	bound := func() int64 {
		t.Helper()
		var below int64
		if err := db.Pool().QueryRowContext(ctx, "SELECT stamped_below FROM event_clock").Scan(&below); err != nil {
			t.Fatal(err)
		}
		return below
	}
	stamp := func() {
		t.Helper()
		if _, err := db.StampEvents(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// stampUntilPast stamps until the bound is past id; other databases' transactions on the
	// same server hold it back for as long as they run.
	stampUntilPast := func(id int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for stamp(); bound() <= id; stamp() {
			if time.Now().After(deadline) {
				t.Fatalf("stamped_below is %d after 20 s, want past %d", bound(), id)
			}
		}
	}
	first, err := db.CreateStore(ctx, asAdmin, "First")
	if err != nil {
		t.Fatal(err)
	}
	stampUntilPast(first.ID)

	openTx, err := db.Pool().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = openTx.Rollback() })
	open := insertStore(t, openTx, "Open")
	later, err := db.CreateStore(ctx, asAdmin, "Later")
	if err != nil {
		t.Fatal(err)
	}
	var openEvent int64
	if err := db.Pool().QueryRowContext(ctx, "SELECT max(id) FROM events WHERE row_id = $1", later.ID).Scan(&openEvent); err != nil {
		t.Fatal(err)
	}
	openEvent-- // Open's event took the id before Later's
	for range 5 {
		stamp()
		if b := bound(); b > openEvent {
			t.Fatalf("stamped_below = %d with event %d's transaction open, want at most %d", b, openEvent, openEvent)
		}
	}
	if got, want := changesOf(eventsAfter(t, db, 1)), []change{{"Store", "CREATED", later.ID, later.ID, nil}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("events with Open's transaction running = %+v, want %+v", got, want)
	}

	if err := openTx.Commit(); err != nil {
		t.Fatal(err)
	}
	stampUntilPast(openEvent + 1)
	got := eventsAfter(t, db, 2)
	if want := []change{{"Store", "CREATED", open, open, nil}}; !reflect.DeepEqual(changesOf(got), want) || got[0].Seq != 3 {
		t.Fatalf("events after the commit = %+v, want seq 3 of %+v", got, want)
	}
}
