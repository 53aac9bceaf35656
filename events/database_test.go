package events_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storegraph/storegraph/events"
	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/dbtest"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// pushDeadline is how soon after its commit a change reaches a waiting subscriber: the log
// is pushed, which takes milliseconds, where a poll would take its interval. Counted from
// the commit or, when stamping was held back, from the hub's last attempt that found it held
// back: any transaction on the Postgres server holds it back, other tests' included.
const pushDeadline = 2 * time.Second

// asAdmin writes the tests' data: an admin acting as nobody.
var asAdmin = storage.Actor{Admin: true}

// forEachBackend runs test once per real database, each fresh and migrated.
func forEachBackend(t *testing.T, test func(t *testing.T, db *storage.DB)) {
	t.Helper()
	dbtest.ForEachBackend(t, discardLog, test)
}

func openMigrated(t *testing.T, url string) *storage.DB {
	t.Helper()
	return dbtest.Open(t, url, discardLog)
}

// change is what an event says changed, without its snapshot and time.
type change struct {
	Entity, Kind   string
	RowID, StoreID int64
}

func changesOf(evs []storage.Event) []change {
	out := make([]change, len(evs))
	for i, e := range evs {
		out[i] = change{e.Entity, e.Kind, e.RowID, e.StoreID}
	}
	return out
}

// watchedHub runs a hub over db until the test ends, watching its stamping.
func watchedHub(t *testing.T, db *storage.DB, o events.Options) (*events.Hub, *stampWatch) {
	t.Helper()
	w := &stampWatch{DB: db}
	return runHub(t, w, o), w
}

// stampWatch is a log that notes when a StampEvents call found events held back.
type stampWatch struct {
	*storage.DB
	heldBack atomic.Int64 // calls that did
	lastHeld atomic.Int64 // when the last of them returned, in Unix nanoseconds
}

func (w *stampWatch) StampEvents(ctx context.Context) (bool, error) {
	pending, err := w.DB.StampEvents(ctx)
	if pending {
		w.lastHeld.Store(time.Now().UnixNano())
		w.heldBack.Add(1)
	}
	return pending, err
}

// pushed runs write on a goroutine of its own while the test waits on ch, and returns the n
// events that follow, failing unless the last arrives within pushDeadline of the commit (or
// of the hub's last finding stamping held back).
func pushed(t *testing.T, w *stampWatch, ch <-chan storage.Event, n int, write func() error) []storage.Event {
	t.Helper()
	committed := make(chan time.Time, 1)
	failed := make(chan error, 1)
	go func() {
		if err := write(); err != nil {
			failed <- err
			return
		}
		committed <- time.Now()
	}()
	timeout := time.NewTimer(deadline)
	defer timeout.Stop()
	var got []storage.Event
	for len(got) < n {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed after %+v", changesOf(got))
			}
			got = append(got, e)
		case err := <-failed:
			t.Fatalf("write: %v", err)
		case <-timeout.C:
			t.Fatalf("got %+v within %s, want %d events", changesOf(got), deadline, n)
		}
	}
	arrived := time.Now()
	select {
	case at := <-committed:
		if held := time.Unix(0, w.lastHeld.Load()); held.After(at) {
			at = held
		}
		if late := arrived.Sub(at); late > pushDeadline {
			t.Errorf("events arrived %s after the commit, want within %s", late, pushDeadline)
		}
	case err := <-failed:
		t.Fatalf("write: %v", err)
	}
	return got
}

// stampAll stamps until nothing is pending (another test's transaction on the same Postgres
// server may hold stamping back for a moment) and returns the whole log.
func stampAll(t *testing.T, db *storage.DB) []storage.Event {
	t.Helper()
	waitFor(t, "every event stamped", func() bool {
		pending, err := db.StampEvents(context.Background())
		if err != nil {
			t.Fatalf("stamp: %v", err)
		}
		return !pending
	})
	evs, err := db.ReadEvents(context.Background(), 0, 100_000)
	if err != nil {
		t.Fatalf("read events: %v", err)
	}
	return evs
}

func createStore(db *storage.DB, name string) (*storage.Store, error) {
	return db.CreateStore(context.Background(), asAdmin, name)
}

func TestCommittedChangesArePushedToAWaitingSubscriber(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h, w := watchedHub(t, db, events.Options{})
		ch := subscribe(t, h, nil, nil)
		var store *storage.Store
		var item *storage.Item
		for _, step := range []struct {
			name  string
			n     int
			write func() error
			want  func() []change
		}{
			{"create store", 1, func() (err error) {
				store, err = createStore(db, "Corner Shop")
				return err
			}, func() []change { return []change{{"Store", "CREATED", store.ID, store.ID}} }},
			{"create item", 1, func() (err error) {
				item, err = db.CreateItem(ctx, asAdmin, storage.ItemInput{Name: "Lamp", Price: 1.5, StoreID: store.ID})
				return err
			}, func() []change { return []change{{"Item", "CREATED", item.ID, store.ID}} }},
			{"update item", 1, func() (err error) {
				_, err = db.UpdateItem(ctx, asAdmin, item.ID, storage.ItemPatch{Price: ptr(2.5)})
				return err
			}, func() []change { return []change{{"Item", "UPDATED", item.ID, store.ID}} }},
			{"delete store", 2, func() error {
				return db.DeleteStore(ctx, asAdmin, store.ID)
			}, func() []change {
				return []change{{"Store", "DELETED", store.ID, store.ID}, {"Item", "DELETED", item.ID, store.ID}}
			}},
		} {
			got := pushed(t, w, ch, step.n, step.write)
			if want := step.want(); !reflect.DeepEqual(changesOf(got), want) {
				t.Fatalf("%s: got %+v, want %+v", step.name, changesOf(got), want)
			}
		}
	})
}

func TestResumingFromACursorReadsTheDatabaseThenGoesLive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		for i := range 5 {
			if _, err := createStore(db, fmt.Sprint("Shop ", i)); err != nil {
				t.Fatal(err)
			}
		}
		log := stampAll(t, db)
		// Pages and queues of 2: the catch-up takes several reads.
		h, w := watchedHub(t, db, events.Options{QueueSize: 2, PageSize: 2})
		ch := subscribe(t, h, &log[1].Seq, nil)
		if got := receive(t, ch, 3); !slices.Equal(got, []int64{log[2].Seq, log[3].Seq, log[4].Seq}) {
			t.Fatalf("got seqs %v, want those of the log after %d: %+v", got, log[1].Seq, log[2:])
		}
		var live *storage.Store
		got := pushed(t, w, ch, 1, func() (err error) {
			live, err = createStore(db, "Live Shop")
			return err
		})
		if want := []change{{"Store", "CREATED", live.ID, live.ID}}; !reflect.DeepEqual(changesOf(got), want) || got[0].Seq != log[4].Seq+1 {
			t.Fatalf("then got %+v (seq %d), want %+v with seq %d", changesOf(got), got[0].Seq, want, log[4].Seq+1)
		}
	})
}

func TestCursorsBeforeThePrunedEventsAreExpired(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for i := range 3 {
			if _, err := createStore(db, fmt.Sprint("Shop ", i)); err != nil {
				t.Fatal(err)
			}
		}
		log := stampAll(t, db)
		if _, err := db.PruneEvents(ctx, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		pruned, err := db.EventsPrunedThrough(ctx)
		if err != nil || pruned == 0 {
			t.Fatalf("EventsPrunedThrough = %d, %v after pruning everything old; want some", pruned, err)
		}
		h, w := watchedHub(t, db, events.Options{})
		for _, after := range []int64{0, pruned - 1} {
			if _, err := subscribeEvents(t.Context(), h, &after, nil, nil); !errors.Is(err, events.ErrCursorExpired) {
				t.Errorf("after %d (pruned through %d): %v, want ErrCursorExpired", after, pruned, err)
			}
		}
		// From the last pruned event on, the log still holds everything.
		ch := subscribe(t, h, &pruned, nil)
		var kept []int64
		for _, e := range log {
			if e.Seq > pruned {
				kept = append(kept, e.Seq)
			}
		}
		if got := receive(t, ch, len(kept)); !slices.Equal(got, kept) {
			t.Fatalf("after %d got %v, want %v", pruned, got, kept)
		}
		got := pushed(t, w, ch, 1, func() error {
			_, err := createStore(db, "Next Shop")
			return err
		})
		if latest := log[len(log)-1].Seq; got[0].Seq != latest+1 {
			t.Fatalf("then got seq %d, want %d", got[0].Seq, latest+1)
		}
	})
}

func TestEveryConcurrentWriteReachesEverySubscriberOnceInOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		const writers, writes = 8, 25
		h := runHub(t, db, events.Options{QueueSize: 4, PageSize: 16})
		type result struct {
			name string
			seqs []int64
			rows []int64
		}
		results := make(chan result, 2)
		var readers sync.WaitGroup
		for _, r := range []struct {
			name string
			slow bool
		}{{"fast", false}, {"slow", true}} {
			ch := subscribe(t, h, nil, nil)
			readers.Go(func() {
				res := result{name: r.name}
				defer func() { results <- res }()
				timeout := time.NewTimer(deadline)
				defer timeout.Stop()
				for len(res.seqs) < writers*writes {
					select {
					case e := <-ch:
						res.seqs, res.rows = append(res.seqs, e.Seq), append(res.rows, e.RowID)
					case <-timeout.C:
						return
					}
					if r.slow && rand.IntN(2) == 0 {
						runtime.Gosched()
					}
				}
			})
		}

		var writing sync.WaitGroup
		var failures atomic.Int64
		for w := range writers {
			writing.Go(func() {
				for i := range writes {
					if _, err := createStore(db, fmt.Sprintf("Shop %d-%d", w, i)); err != nil {
						failures.Add(1)
						t.Errorf("writer %d: %v", w, err)
						return
					}
				}
			})
		}
		writing.Wait()
		if failures.Load() > 0 {
			return
		}
		log := stampAll(t, db)
		wantSeqs, wantRows := make([]int64, len(log)), make([]int64, len(log))
		for i, e := range log {
			wantSeqs[i], wantRows[i] = e.Seq, e.RowID
		}
		readers.Wait()
		close(results)
		for res := range results {
			if !slices.Equal(res.seqs, wantSeqs) || !slices.Equal(res.rows, wantRows) {
				t.Errorf("%s subscriber got seqs %v rows %v, want the log's: seqs %v rows %v",
					res.name, res.seqs, res.rows, wantSeqs, wantRows)
			}
		}
	})
}

// A transaction left open stalls nobody's events but its own: a later commit is pushed while
// it runs, and its own events follow once it commits.
func TestOpenTransactionDoesNotStallTheFeed(t *testing.T) {
	ctx := context.Background()
	db := openMigrated(t, storagetest.NewPostgres(t))
	h, w := watchedHub(t, db, events.Options{})
	ch := subscribe(t, h, nil, nil)

	tx, err := db.Pool().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	var open int64
	if err := tx.QueryRowContext(ctx, "INSERT INTO stores (name, name_key, created_at, updated_at) VALUES ('Open', 'open', now(), now()) RETURNING id").Scan(&open); err != nil {
		t.Fatal(err)
	}
	var later *storage.Store
	got := pushed(t, w, ch, 1, func() (err error) {
		later, err = createStore(db, "Later")
		return err
	})
	if want := []change{{"Store", "CREATED", later.ID, later.ID}}; !reflect.DeepEqual(changesOf(got), want) {
		t.Fatalf("while a transaction is open: got %+v, want %+v", changesOf(got), want)
	}
	// The open transaction's own commit sends no notification (the server's writes do):
	// another commit's wakes the hub.
	got = pushed(t, w, ch, 2, func() error {
		if err := tx.Commit(); err != nil {
			return err
		}
		_, err := createStore(db, "After")
		return err
	})
	if got[0].RowID != open || got[1].Store == nil || got[1].Store.Name != "After" {
		t.Fatalf("after the commit: got %+v, want Open's event, then After's", changesOf(got))
	}
}
