package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// op is one storage call.
type op struct {
	name string
	run  func(context.Context, *storage.DB) error
}

// operations calls every storage method that touches the database, with ids that exist
// (storeID, itemID) so that only the database itself can make them fail; the deletions
// come last, item before store, so that each still finds its row. The names of writes begin
// with Create, Update or Delete (see isWrite): the commit tests run every one of them.
func operations(storeID, itemID int64) []op {
	return []op{
		{"GetStore", func(ctx context.Context, db *storage.DB) error { _, err := db.GetStore(ctx, storeID); return err }},
		{"ListStores", func(ctx context.Context, db *storage.DB) error {
			_, err := db.ListStores(ctx, storage.StoreFilter{}, storage.Order{}, storage.PageArgs{})
			return err
		}},
		{"CountStores", func(ctx context.Context, db *storage.DB) error {
			_, err := db.CountStores(ctx, storage.StoreFilter{})
			return err
		}},
		{"CreateStore", func(ctx context.Context, db *storage.DB) error {
			_, err := db.CreateStore(ctx, "New "+uniqueName())
			return err
		}},
		{"UpdateStore", func(ctx context.Context, db *storage.DB) error {
			_, err := db.UpdateStore(ctx, storeID, "Renamed "+uniqueName())
			return err
		}},
		{"GetItem", func(ctx context.Context, db *storage.DB) error { _, err := db.GetItem(ctx, itemID); return err }},
		{"ListItems", func(ctx context.Context, db *storage.DB) error {
			_, err := db.ListItems(ctx, storage.ItemFilter{}, storage.Order{}, storage.PageArgs{})
			return err
		}},
		{"CountItems", func(ctx context.Context, db *storage.DB) error {
			_, err := db.CountItems(ctx, storage.ItemFilter{})
			return err
		}},
		{"CreateItem", func(ctx context.Context, db *storage.DB) error {
			_, err := db.CreateItem(ctx, storage.ItemInput{Name: "New", Price: 1, StoreID: storeID})
			return err
		}},
		{"UpdateItem", func(ctx context.Context, db *storage.DB) error {
			_, err := db.UpdateItem(ctx, itemID, storage.ItemPatch{Price: ptr(2.5)})
			return err
		}},
		{"DeleteItem", func(ctx context.Context, db *storage.DB) error { return db.DeleteItem(ctx, itemID) }},
		{"DeleteStore", func(ctx context.Context, db *storage.DB) error { return db.DeleteStore(ctx, storeID) }},
	}
}

var nameSeq atomic.Int64

// uniqueName keeps store names apart: they are unique.
func uniqueName() string { return strconv.FormatInt(nameSeq.Add(1), 10) }

func TestPostgresOutageIsUnavailableAndRecoversWithoutReopening(t *testing.T) {
	// Postgres only: SQLite runs in-process and cannot go away. Its counterpart, a
	// database locked for longer than the caller waits, is the test below.
	target, err := url.Parse(storagetest.NewPostgres(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, target.Host)
	target.Host = proxy.addr
	db := openMigrated(t, target.String())
	ctx := context.Background()
	st := mustStore(t, db, "Before")
	it := mustItem(t, db, st.ID, "Thing", 1)

	proxy.down()
	for _, op := range operations(st.ID, it.ID) {
		start := time.Now()
		err := op.run(ctx, db)
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s during the outage: error = %v, want ErrUnavailable", op.name, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s took %v to fail", op.name, d)
		}
	}
	if err := db.Ping(ctx); err == nil {
		t.Error("Ping succeeded during the outage")
	}

	proxy.up(t)
	for _, op := range operations(st.ID, it.ID) {
		if err := op.run(ctx, db); err != nil {
			t.Errorf("%s after the outage: %v", op.name, err)
		}
	}
}

func TestWriteBlockedByALockIsUnavailable(t *testing.T) {
	// Another connection holds the write lock, so writes wait. On Postgres the caller's
	// context bounds the wait; SQLite's wait for its lock cannot be interrupted, so there
	// the busy timeout (5 s, see parseURL) bounds it, and one write is enough to show it.
	limits := map[string]struct {
		writes []string
		within time.Duration
	}{
		"postgres": {[]string{"CreateStore", "UpdateStore", "DeleteStore", "CreateItem", "UpdateItem", "DeleteItem"}, 2 * time.Second},
		"sqlite":   {[]string{"UpdateItem"}, 7 * time.Second},
	}
	for _, backend := range storagetest.Backends {
		tt, ok := limits[backend.Name]
		if !ok {
			t.Fatalf("no writes or limit for backend %s", backend.Name)
		}
		t.Run(backend.Name, func(t *testing.T) {
			t.Parallel()
			url := backend.New(t)
			if backend.Name == "postgres" {
				// The pool's sessions carry a name of their own, to be found in pg_stat_activity.
				url += "&application_name=sg-blocked-" + uniqueName()
			}
			db := openMigrated(t, url)
			st := mustStore(t, db, "Shop")
			it := mustItem(t, db, st.ID, "Thing", 1)

			release := holdWriteLock(t, url)
			for _, op := range operations(st.ID, it.ID) {
				if !slices.Contains(tt.writes, op.name) {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				start := time.Now()
				err := op.run(ctx, db)
				cancel()
				if !errors.Is(err, storage.ErrUnavailable) {
					t.Errorf("%s: error = %v, want ErrUnavailable", op.name, err)
				}
				if d := time.Since(start); d > tt.within {
					t.Errorf("%s took %v to give up, want at most %v", op.name, d, tt.within)
				}
				// Given up means given up in Postgres too: a statement left waiting would
				// run once the lock is free, for a caller that was told it failed.
				if backend.Name == "postgres" {
					if n := lockWaits(t, url); n != 0 {
						t.Errorf("%s: %d statements still wait for the lock after it returned", op.name, n)
					}
				}
			}
			release()

			// Nothing was written, and the pool is fine.
			if got, err := db.GetItem(context.Background(), it.ID); err != nil || got.Price() != 1 {
				t.Fatalf("item after the blocked writes = %+v (%v), want it unchanged", got, err)
			}
			if _, err := db.UpdateItem(context.Background(), it.ID, storage.ItemPatch{Name: ptr("After")}); err != nil {
				t.Fatalf("write after the lock is released: %v", err)
			}
		})
	}
}

func TestSQLiteWriteQueuedBehindAnotherGivesUpWithItsContext(t *testing.T) {
	// Writes of one process take turns in Go before they reach SQLite, so waiting for the
	// turn ends with the caller's context, well before the 5 s busy timeout.
	db := openMigrated(t, storagetest.NewSQLite(t))
	st := mustStore(t, db, "Shop")
	it := mustItem(t, db, st.ID, "Thing", 1)

	release := db.HoldWriteTurnForTest()
	var wrote []string
	for _, op := range operations(st.ID, it.ID) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		err := op.run(ctx, db)
		cancel()
		if !op.isWrite() {
			if err != nil {
				t.Errorf("%s: %v, want reads to pass a queued write", op.name, err)
			}
			continue
		}
		wrote = append(wrote, op.name)
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s: error = %v, want ErrUnavailable", op.name, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s took %v to give up, want about 100ms", op.name, d)
		}
	}
	release()

	if want := []string{"CreateStore", "UpdateStore", "CreateItem", "UpdateItem", "DeleteItem", "DeleteStore"}; !slices.Equal(wrote, want) {
		t.Fatalf("writes tried: %v, want %v", wrote, want)
	}
	if got, err := db.GetItem(context.Background(), it.ID); err != nil || got.Price() != 1 || got.Name != "Thing" {
		t.Fatalf("item after the queued writes = %+v (%v), want it unchanged", got, err)
	}
	if n, err := db.CountStores(context.Background(), storage.StoreFilter{}); err != nil || n != 1 {
		t.Fatalf("stores after the queued writes: %d (%v), want 1", n, err)
	}
	if _, err := db.UpdateItem(context.Background(), it.ID, storage.ItemPatch{Name: ptr("After")}); err != nil {
		t.Fatalf("write after the turn is given back: %v", err)
	}
}

// holdWriteLock takes the database's write lock on a connection of its own and returns the
// function that releases it.
func holdWriteLock(t *testing.T, databaseURL string) (release func()) {
	t.Helper()
	driver, dsn, lock := "pgx", databaseURL, "LOCK TABLE stores, items IN ACCESS EXCLUSIVE MODE"
	if path, ok := strings.CutPrefix(databaseURL, "sqlite:"); ok {
		// An immediate transaction takes SQLite's write lock at BEGIN.
		driver, dsn, lock = "sqlite3", "file:"+path+"?_txlock=immediate", "SELECT 1"
	}
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := raw.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(lock); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback()
			_ = raw.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// lockWaits counts the statements waiting for a lock in the sessions named by the
// application_name of databaseURL.
func lockWaits(t *testing.T, databaseURL string) int {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", storagetest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var n int
	err = admin.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
		u.Query().Get("application_name")).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// proxy forwards TCP connections to a database server; down cuts every connection and
// refuses new ones, as a stopped server would, and up listens again on the same address.
type proxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{addr: "127.0.0.1:0", target: target}
	p.up(t)
	t.Cleanup(p.down)
	return p
}

func (p *proxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr, p.conns = ln, ln.Addr().String(), map[net.Conn]bool{}
	p.mu.Unlock()
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", p.target)
			if err != nil {
				client.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln { // went down meanwhile
				p.mu.Unlock()
				client.Close()
				server.Close()
				return
			}
			p.conns[client], p.conns[server] = true, true
			p.mu.Unlock()
			go pipe(client, server)
			go pipe(server, client)
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return
	}
	p.ln.Close()
	p.ln = nil
	for c := range p.conns {
		c.Close()
	}
}

func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}
