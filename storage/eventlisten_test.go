package storage_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// listen runs ListenEvents until the test ends, and checks that it then returns nil.
func listen(t *testing.T, db *storage.DB, wake func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- db.ListenEvents(ctx, wake) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ListenEvents ended with %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("ListenEvents did not return after its context ended")
		}
	})
}

// wakeChannel is a wake function and the channel it signals; wakes not yet received merge
// into one.
func wakeChannel() (<-chan struct{}, func()) {
	wakes := make(chan struct{}, 1)
	return wakes, func() {
		select {
		case wakes <- struct{}{}:
		default:
		}
	}
}

func awaitWake(t *testing.T, wakes <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-wakes:
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake %s", what)
	}
}

// drain forgets wakes received so far.
func drain(wakes <-chan struct{}) {
	select {
	case <-wakes:
	default:
	}
}

func TestListenEventsWakesOnceListeningAndAfterEachCommit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		wakes, wake := wakeChannel()
		listen(t, db, wake)
		awaitWake(t, wakes, "once listening")
		for _, name := range []string{"First", "Second"} {
			stampAll(t, db)
			before := latestSeq(t, db)
			drain(wakes)
			s := mustStore(t, db, name)
			awaitWake(t, wakes, "after creating "+name)
			if got := changesOf(eventsAfter(t, db, before)); !slices.Equal(got, []change{{"Store", "CREATED", s.ID, s.ID, nil}}) {
				t.Fatalf("events = %+v, want %s's creation", got, name)
			}
		}
	})
}

// namedPostgres is a fresh Postgres database whose connections are named, so that the test
// can find its own among the server's.
func namedPostgres(t *testing.T) (databaseURL, applicationName string) {
	t.Helper()
	u, err := url.Parse(storagetest.NewPostgres(t))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	applicationName = "test_" + hex.EncodeToString(b)
	q := u.Query()
	q.Set("application_name", applicationName)
	u.RawQuery = q.Encode()
	return u.String(), applicationName
}

// backends returns the pids of the server's connections named name.
func backends(t *testing.T, db *storage.DB, name string) []int64 {
	t.Helper()
	rows, err := db.Pool().QueryContext(context.Background(), "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid", name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var pids []int64
	for rows.Next() {
		var pid int64
		if err := rows.Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return pids
}

// timeline records log messages and wakes in the order they happened.
type timeline struct {
	mu      sync.Mutex
	entries []string
}

func (tl *timeline) add(entry string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.entries = append(tl.entries, entry)
}

// since reports whether the entries from index from on contain want, in that order, and
// how many entries there are.
func (tl *timeline) since(from int, want ...string) (bool, int) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	i := 0
	for _, e := range tl.entries[min(from, len(tl.entries)):] {
		if i < len(want) && e == want[i] {
			i++
		}
	}
	return i == len(want), len(tl.entries)
}

func (tl *timeline) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (tl *timeline) Handle(_ context.Context, r slog.Record) error {
	tl.add("log: " + r.Message)
	return nil
}
func (tl *timeline) WithAttrs([]slog.Attr) slog.Handler { return tl }
func (tl *timeline) WithGroup(string) slog.Handler      { return tl }

// A listening connection that is killed is logged, replaced, and followed by a wake, after
// which the log holds what was committed while nobody listened.
func TestListenEventsReconnectsAndWakesAfterItsConnectionIsKilled(t *testing.T) {
	ctx := context.Background()
	databaseURL, name := namedPostgres(t)
	tl := &timeline{}
	db, err := storage.Open(ctx, databaseURL, slog.New(tl))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	listen(t, db, func() { tl.add("wake") })
	waitFor(t, "the first wake", func() bool { ok, _ := tl.since(0, "wake"); return ok })
	listener := backends(t, db, name+" events")
	if len(listener) != 1 {
		t.Fatalf("listening connections = %v, want one", listener)
	}

	_, mark := tl.since(0)
	if _, err := db.Pool().ExecContext(ctx, "SELECT pg_terminate_backend($1)", listener[0]); err != nil {
		t.Fatal(err)
	}
	away := mustStore(t, db, "While Away")
	waitFor(t, "a logged reconnection and a wake", func() bool {
		ok, _ := tl.since(mark, "log: event listener has no connection; retrying", "log: event listener reconnected", "wake")
		return ok
	})
	if now := backends(t, db, name+" events"); len(now) != 1 || now[0] == listener[0] {
		t.Fatalf("listening connections after the reconnection = %v, want one other than %d", now, listener[0])
	}
	if got := changesOf(eventsAfter(t, db, 0)); !slices.Equal(got, []change{{"Store", "CREATED", away.ID, away.ID, nil}}) {
		t.Fatalf("events = %+v, want the store created while away", got)
	}

	_, mark = tl.since(0)
	mustStore(t, db, "After")
	waitFor(t, "a wake after a commit on the new connection", func() bool { ok, _ := tl.since(mark, "wake"); return ok })
}

// The listening connection is the listener's own: a pool of one stays free for writes.
func TestListenEventsKeepsItsConnectionOutOfThePool(t *testing.T) {
	ctx := context.Background()
	databaseURL, name := namedPostgres(t)
	db, err := storage.Open(ctx, databaseURL, discardLog, storage.Pool{MaxOpen: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	wakes, wake := wakeChannel()
	listen(t, db, wake)
	awaitWake(t, wakes, "once listening")

	writeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := db.CreateStore(writeCtx, asAdmin, "Still Writable"); err != nil {
		t.Fatalf("write with the pool's one connection: %v", err)
	}
	// The write's notification borrows the pool's connection for a moment.
	waitFor(t, "the pool's one connection idle", func() bool {
		stats := db.Pool().Stats()
		return stats.OpenConnections == 1 && stats.InUse == 0
	})
	pool, listener := backends(t, db, name), backends(t, db, name+" events")
	if len(pool) != 1 || len(listener) != 1 {
		t.Errorf("server connections: pool %v, listener %v; want one each", pool, listener)
	}
}

// Every DB on the schema notifies its listeners, in whichever process; one closed right
// after its write sends the notification first.
func TestListenEventsWakesForTheWritesOfAnotherDBClosedAtOnce(t *testing.T) {
	ctx := context.Background()
	databaseURL := storagetest.NewPostgres(t)
	db := openMigrated(t, databaseURL)
	wakes, wake := wakeChannel()
	listen(t, db, wake)
	awaitWake(t, wakes, "once listening")

	other, err := storage.Open(ctx, databaseURL, discardLog)
	if err != nil {
		t.Fatal(err)
	}
	s, err := other.CreateStore(ctx, asAdmin, "From Elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	awaitWake(t, wakes, "after the other DB's write")
	if got := changesOf(eventsAfter(t, db, 0)); !slices.Equal(got, []change{{"Store", "CREATED", s.ID, s.ID, nil}}) {
		t.Fatalf("events = %+v, want the other DB's store", got)
	}
}

// Each schema has a channel of its own: writes in another schema of the database (another
// deployment, another test) wake nobody here. Notifications reach a listener in commit
// order, so once this schema's wake has come, the other's would have come before it.
func TestListenEventsIsNotWokenByAnotherSchemasWrites(t *testing.T) {
	ctx := context.Background()
	here, there := openMigrated(t, storagetest.NewPostgres(t)), openMigrated(t, storagetest.NewPostgres(t))
	var wakesHere atomic.Int64
	hereWakes, wakeHere := wakeChannel()
	listen(t, here, func() { wakesHere.Add(1); wakeHere() })
	thereWakes, wakeThere := wakeChannel()
	listen(t, there, wakeThere)
	awaitWake(t, hereWakes, "once listening here")
	awaitWake(t, thereWakes, "once listening there")
	before := wakesHere.Load()

	if _, err := there.CreateStore(ctx, asAdmin, "There"); err != nil {
		t.Fatal(err)
	}
	awaitWake(t, thereWakes, "after the write there")
	if _, err := here.CreateStore(ctx, asAdmin, "Here"); err != nil {
		t.Fatal(err)
	}
	awaitWake(t, hereWakes, "after the write here")
	if n := wakesHere.Load() - before; n != 1 {
		t.Fatalf("%d wakes here, want 1: the other schema's write woke this listener", n)
	}
}
