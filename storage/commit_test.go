package storage_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// A write is done when its COMMIT is: these tests make the commit itself fail, after every
// statement of the write has succeeded, and check that the write is not reported as done.

func TestWriteWhoseCommitFailsIsAnErrorAndChangesNothing(t *testing.T) {
	// Every write adds a row that breaks a deferred foreign key, which the database checks
	// at COMMIT only.
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := makeFixture(t, db)
		failEveryCommit(t, db)

		before := contents(t, db)
		for _, op := range writes(operations(f)) {
			if err := op.run(ctx, db); err == nil {
				t.Errorf("%s succeeded, but its commit failed", op.name)
			}
			if got := contents(t, db); got != before {
				t.Fatalf("after %s the database holds\n%s\nwant it unchanged:\n%s", op.name, got, before)
			}
		}
	})
}

func TestPostgresWriteWhoseConnectionFailsMidCommitIsUnavailable(t *testing.T) {
	// Each write is held inside its COMMIT (a deferred constraint trigger waits there for an
	// advisory lock the test holds) while its connection fails. Either way the write is
	// UNAVAILABLE, and its outcome unknown to the caller: ended by the server, the session's
	// transaction is rolled back; cut on the way, the server may or may not commit the write
	// once the lock is free (it may notice the lost client first), which is why the caller
	// cannot be told either way.
	failures := []struct {
		name string
		fail func(t *testing.T, p *proxy, pid int)
		// mend undoes fail once the write has returned and the lock is free.
		mend func(p *proxy, t *testing.T)
		// unchanged: the write is known not to have been committed.
		unchanged bool
	}{
		{"the server ends the session", func(t *testing.T, _ *proxy, pid int) { terminateBackend(t, pid) }, func(*proxy, *testing.T) {}, true},
		{"the connection is cut", func(_ *testing.T, p *proxy, _ int) { p.down() }, (*proxy).up, false},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			target, err := url.Parse(storagetest.NewPostgres(t))
			if err != nil {
				t.Fatal(err)
			}
			p := startProxy(t, target.Host)
			target.Host = p.addr
			app := "sg-midcommit-" + uniqueName()
			// A backend waiting for a lock misses a lost client unless
			// client_connection_check_interval is on: keep its default, off, whatever the
			// server's configuration.
			target.RawQuery += "&application_name=" + app + "&client_connection_check_interval=0"
			// One connection: the write's, so no idle one is left behind a cut proxy.
			db, err := storage.Open(ctx, target.String(), discardLog, storage.Pool{MaxOpen: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			f := makeFixture(t, db)
			commits := holdEveryCommit(t, db)

			for _, op := range writes(operations(f)) {
				before := contents(t, db)
				commits.hold(t)
				done := make(chan error, 1)
				go func() { done <- op.run(ctx, db) }()
				pid, query := commits.waitForHeld(t, app, done)
				// Deferred triggers run at the commit: a transaction's COMMIT, or the end of a
				// write of one statement, which commits by itself.
				if !strings.EqualFold(query, "commit") && !strings.HasPrefix(query, "INSERT ") {
					t.Errorf("%s was held in %q, want in its COMMIT or its only statement", op.name, query)
				}
				tt.fail(t, p, pid)
				var err error
				select {
				case err = <-done:
				case <-time.After(20 * time.Second):
					t.Fatalf("%s did not return within 20s of its connection failing", op.name)
				}
				commits.release(t)
				tt.mend(p, t)
				if !errors.Is(err, storage.ErrUnavailable) {
					t.Errorf("%s: error = %v, want ErrUnavailable", op.name, err)
				}
				// The held backend finishes its COMMIT one way or the other before the next
				// write holds the lock again.
				commits.waitForEnd(t, pid)
				if got := contents(t, db); tt.unchanged && got != before {
					t.Fatalf("after %s the database holds\n%s\nwant it unchanged:\n%s", op.name, got, before)
				}
			}
		})
	}
}

// writes keeps the operations that write.
func writes(ops []op) []op {
	var out []op
	for _, op := range ops {
		if op.write {
			out = append(out, op)
		}
	}
	return out
}

// writtenTables are the tables the writes change.
var writtenTables = []string{"stores", "items", "users", "sessions", "refresh_tokens", "settings"}

// contents lists every row of every table the writes change.
func contents(t *testing.T, db *storage.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range writtenTables {
		rows, err := db.TableForTest(context.Background(), table)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(table + ":\n" + rows)
	}
	return b.String()
}

// failEveryCommit makes every later insert, update and delete of a row of writtenTables add
// a row to commit_guard that refers to no store, which the deferred foreign key refuses at
// COMMIT.
func failEveryCommit(t *testing.T, db *storage.DB) {
	t.Helper()
	stmts := []string{`CREATE TABLE commit_guard (store_id bigint REFERENCES stores (id) DEFERRABLE INITIALLY DEFERRED)`}
	if db.Dialect() == storage.Postgres {
		stmts = append(stmts, `CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN INSERT INTO commit_guard VALUES (-1); RETURN NULL; END $$`)
	}
	for _, table := range writtenTables {
		if db.Dialect() == storage.Postgres {
			stmts = append(stmts, fmt.Sprintf(`CREATE TRIGGER %[1]s_fail_at_commit AFTER INSERT OR UPDATE OR DELETE ON %[1]s
				FOR EACH ROW EXECUTE FUNCTION fail_at_commit()`, table))
			continue
		}
		for _, event := range []string{"INSERT", "UPDATE", "DELETE"} {
			stmts = append(stmts, fmt.Sprintf(`CREATE TRIGGER %[1]s_%[2]s_fails_at_commit AFTER %[2]s ON %[1]s
				BEGIN INSERT INTO commit_guard VALUES (-1); END`, table, event))
		}
	}
	for _, stmt := range stmts {
		if err := db.ExecForTest(context.Background(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// commitHolder keeps the commits of writes waiting, inside COMMIT, for an advisory lock
// while the test holds it.
type commitHolder struct {
	key   int64
	admin *sql.DB
	conn  *sql.Conn // the session holding the lock
}

// holdEveryCommit installs, on db's Postgres schema, a deferred constraint trigger on the
// writtenTables that takes the advisory lock of a fresh key shared, at COMMIT.
func holdEveryCommit(t *testing.T, db *storage.DB) *commitHolder {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	c := &commitHolder{key: int64(binary.LittleEndian.Uint64(b[:]) >> 1)}
	stmts := []string{fmt.Sprintf(`CREATE FUNCTION wait_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_advisory_xact_lock_shared(%d); RETURN NULL; END $$`, c.key)}
	for _, table := range writtenTables {
		stmts = append(stmts, fmt.Sprintf(`CREATE CONSTRAINT TRIGGER %[1]s_wait_at_commit AFTER INSERT OR UPDATE OR DELETE ON %[1]s
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION wait_at_commit()`, table))
	}
	for _, stmt := range stmts {
		if err := db.ExecForTest(context.Background(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	var err error
	if c.admin, err = sql.Open("pgx", storagetest.AdminURL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.admin.Close() })
	if c.conn, err = c.admin.Conn(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.conn.Close() }) // ends the session, and so frees the lock
	return c
}

func (c *commitHolder) hold(t *testing.T) {
	t.Helper()
	if _, err := c.conn.ExecContext(context.Background(), `SELECT pg_advisory_lock($1)`, c.key); err != nil {
		t.Fatal(err)
	}
}

func (c *commitHolder) release(t *testing.T) {
	t.Helper()
	if _, err := c.conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, c.key); err != nil {
		t.Fatal(err)
	}
}

// waitForHeld waits until a session named app waits for the lock and returns its backend's
// pid and the statement it is in. The write must not return before: done receives its error.
//
// pg_stat_activity takes the statement from a snapshot of the sessions' status, but reads
// their wait events live: on a busy machine the snapshot can be of a moment before the
// session reached its COMMIT. A held session stays where it is, so it is looked at again
// until it shows its COMMIT, or the deadline passes and the statement last seen is returned.
func (c *commitHolder) waitForHeld(t *testing.T, app string, done <-chan error) (pid int, query string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		err := c.admin.QueryRow(`SELECT pid, query FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock' AND wait_event = 'advisory'`, app).Scan(&pid, &query)
		switch {
		case err == nil && (strings.EqualFold(query, "commit") || time.Now().After(deadline)):
			return pid, query
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			t.Fatal(err)
		case time.Now().After(deadline):
			t.Fatal("no write waited inside its commit within 20s")
		}
		select {
		case err := <-done:
			t.Fatalf("the write returned (error %v) before its commit was held", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitForEnd waits until the backend pid no longer runs a statement: it has committed or
// rolled back, or it is gone.
func (c *commitHolder) waitForEnd(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var active bool
		err := c.admin.QueryRow(`SELECT state = 'active' FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&active)
		switch {
		case errors.Is(err, sql.ErrNoRows) || err == nil && !active:
			return
		case err != nil:
			t.Fatal(err)
		case time.Now().After(deadline):
			t.Fatalf("backend %d was still in its COMMIT 20s after the lock was freed", pid)
		}
	}
}

func terminateBackend(t *testing.T, pid int) {
	t.Helper()
	admin, err := sql.Open("pgx", storagetest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var ok bool
	if err := admin.QueryRow(`SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
}
