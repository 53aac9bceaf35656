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

// op is one storage call; write says it writes (the commit tests run every write).
type op struct {
	name  string
	write bool
	run   func(context.Context, *storage.DB) error
}

// fixture is the rows the operations work on, made before they run.
type fixture struct {
	storeID, itemID int64
	// ann refreshes her session, has her role set and changes her password; bo is promoted
	// and signed out of one session; cy is signed out of all of hers.
	ann, bo, cy           int64
	annEmail, boEmail     string
	annSession, boSession int64
	annRefresh            *string // ann's current refresh token
}

func makeFixture(t *testing.T, db *storage.DB) fixture {
	t.Helper()
	f := fixture{annEmail: "ann@example.com", boEmail: "bo@example.com", annRefresh: ptr("ann-" + uniqueName())}
	st := mustStore(t, db, "Shop")
	f.storeID, f.itemID = st.ID, mustItem(t, db, st.ID, "Thing", 1).ID
	f.ann, f.bo, f.cy = mustUser(t, db, f.annEmail).ID, mustUser(t, db, f.boEmail).ID, mustUser(t, db, "cy@example.com").ID
	later := time.Now().Add(time.Hour)
	f.annSession = mustSession(t, db, f.ann, *f.annRefresh, later).ID
	f.boSession = mustSession(t, db, f.bo, "bo-"+uniqueName(), later).ID
	mustSession(t, db, f.cy, "cy-"+uniqueName(), later)
	return f
}

// operations calls every storage method that touches the database, on rows that exist, so
// that only the database itself can make them fail. Every write changes a row when it runs
// once: a role set is a new one, a session revoked was live. The deletions come last, item
// before store, so that each still finds its row.
func operations(f fixture) []op {
	later := time.Now().Add(time.Hour)
	return []op{
		{"GetStore", false, func(ctx context.Context, db *storage.DB) error { _, err := db.GetStore(ctx, f.storeID); return err }},
		{"ListStores", false, func(ctx context.Context, db *storage.DB) error {
			_, err := db.ListStores(ctx, storage.StoreFilter{}, storage.Order{}, storage.PageArgs{})
			return err
		}},
		{"CountStores", false, func(ctx context.Context, db *storage.DB) error {
			_, err := db.CountStores(ctx, storage.StoreFilter{})
			return err
		}},
		{"CreateStore", true, func(ctx context.Context, db *storage.DB) error {
			_, err := db.CreateStore(ctx, asAdmin, "New "+uniqueName())
			return err
		}},
		{"UpdateStore", true, func(ctx context.Context, db *storage.DB) error {
			_, err := db.UpdateStore(ctx, asAdmin, f.storeID, "Renamed "+uniqueName())
			return err
		}},
		{"GetItem", false, func(ctx context.Context, db *storage.DB) error { _, err := db.GetItem(ctx, f.itemID); return err }},
		{"ListItems", false, func(ctx context.Context, db *storage.DB) error {
			_, err := db.ListItems(ctx, storage.ItemFilter{}, storage.Order{}, storage.PageArgs{})
			return err
		}},
		{"CountItems", false, func(ctx context.Context, db *storage.DB) error {
			_, err := db.CountItems(ctx, storage.ItemFilter{})
			return err
		}},
		{"CreateItem", true, func(ctx context.Context, db *storage.DB) error {
			_, err := db.CreateItem(ctx, asAdmin, storage.ItemInput{Name: "New", Price: 1, StoreID: f.storeID})
			return err
		}},
		{"UpdateItem", true, func(ctx context.Context, db *storage.DB) error {
			_, err := db.UpdateItem(ctx, asAdmin, f.itemID, storage.ItemPatch{Price: ptr(2.5)})
			return err
		}},
		{"GetUser", false, func(ctx context.Context, db *storage.DB) error { _, err := db.GetUser(ctx, f.ann); return err }},
		{"GetUserByEmail", false, func(ctx context.Context, db *storage.DB) error {
			_, err := db.GetUserByEmail(ctx, f.annEmail)
			return err
		}},
		{"GetUsers", false, func(ctx context.Context, db *storage.DB) error {
			_, err := db.GetUsers(ctx, []int64{f.ann, f.bo})
			return err
		}},
		{"ListUsers", false, func(ctx context.Context, db *storage.DB) error { _, err := db.ListUsers(ctx); return err }},
		{"SessionState", false, func(ctx context.Context, db *storage.DB) error {
			_, _, _, err := db.SessionState(ctx, f.annSession, time.Now())
			return err
		}},
		{"CreateUser", true, func(ctx context.Context, db *storage.DB) error {
			_, err := db.CreateUser(ctx, "new"+uniqueName()+"@example.com", "phc")
			return err
		}},
		{"SetUserRole", true, func(ctx context.Context, db *storage.DB) error {
			_, err := db.SetUserRole(ctx, asAdmin, f.ann, storage.RoleAdmin)
			return err
		}},
		{"PromoteUser", true, func(ctx context.Context, db *storage.DB) error { _, err := db.PromoteUser(ctx, f.boEmail); return err }},
		{"SetPasswordHash", true, func(ctx context.Context, db *storage.DB) error {
			return db.SetPasswordHash(ctx, f.ann, "phc-"+uniqueName())
		}},
		{"CreateSession", true, func(ctx context.Context, db *storage.DB) error {
			_, err := db.CreateSession(ctx, f.ann, "new-"+uniqueName(), later)
			return err
		}},
		{"RotateRefreshToken", true, func(ctx context.Context, db *storage.DB) error {
			next := "ann-" + uniqueName()
			_, err := db.RotateRefreshToken(ctx, *f.annRefresh, next, time.Now(), later)
			if err == nil {
				*f.annRefresh = next
			}
			return err
		}},
		{"RevokeSession", true, func(ctx context.Context, db *storage.DB) error { return db.RevokeSession(ctx, f.boSession) }},
		{"RevokeUserSessions", true, func(ctx context.Context, db *storage.DB) error { return db.RevokeUserSessions(ctx, f.cy) }},
		{"ChangePassword", true, func(ctx context.Context, db *storage.DB) error {
			_, err := db.ChangePassword(ctx, f.ann, "phc-"+uniqueName(), "changed-"+uniqueName(), later)
			return err
		}},
		// The first call writes the key; later ones only read it.
		{"SigningKey", true, func(ctx context.Context, db *storage.DB) error { _, err := db.SigningKey(ctx); return err }},
		{"DeleteItem", true, func(ctx context.Context, db *storage.DB) error { return db.DeleteItem(ctx, asAdmin, f.itemID) }},
		{"DeleteStore", true, func(ctx context.Context, db *storage.DB) error { return db.DeleteStore(ctx, asAdmin, f.storeID) }},
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
	f := makeFixture(t, db)

	proxy.down()
	for _, op := range operations(f) {
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
	for _, op := range operations(f) {
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
			f := makeFixture(t, db)

			release := holdWriteLock(t, url)
			for _, op := range operations(f) {
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
			if got, err := db.GetItem(context.Background(), f.itemID); err != nil || got.Price() != 1 {
				t.Fatalf("item after the blocked writes = %+v (%v), want it unchanged", got, err)
			}
			if _, err := db.UpdateItem(context.Background(), asAdmin, f.itemID, storage.ItemPatch{Name: ptr("After")}); err != nil {
				t.Fatalf("write after the lock is released: %v", err)
			}
		})
	}
}

func TestSQLiteWriteQueuedBehindAnotherGivesUpWithItsContext(t *testing.T) {
	// Writes of one process take turns in Go before they reach SQLite, so waiting for the
	// turn ends with the caller's context, well before the 5 s busy timeout.
	db := openMigrated(t, storagetest.NewSQLite(t))
	f := makeFixture(t, db)
	before := contents(t, db)

	release := db.HoldWriteTurnForTest()
	var wrote []string
	for _, op := range operations(f) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		err := op.run(ctx, db)
		cancel()
		if !op.write {
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

	want := []string{"CreateStore", "UpdateStore", "CreateItem", "UpdateItem", "CreateUser", "SetUserRole", "PromoteUser",
		"SetPasswordHash", "CreateSession", "RotateRefreshToken", "RevokeSession", "RevokeUserSessions", "ChangePassword",
		"SigningKey", "DeleteItem", "DeleteStore"}
	if !slices.Equal(wrote, want) {
		t.Fatalf("writes tried: %v, want %v", wrote, want)
	}
	if got := contents(t, db); got != before {
		t.Fatalf("after the queued writes the database holds\n%s\nwant it unchanged:\n%s", got, before)
	}
	if _, err := db.UpdateItem(context.Background(), asAdmin, f.itemID, storage.ItemPatch{Name: ptr("After")}); err != nil {
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
