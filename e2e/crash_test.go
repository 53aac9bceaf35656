package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// Postgres killed (`pg_ctl stop -m immediate`: no checkpoint, sessions cut, as a crash would)
// and started again, several times, under writers of every kind. A write the server
// acknowledged must be in the database afterwards; one answered UNAVAILABLE may or may not
// have happened.

const (
	crashCycles         = 5
	crashRequestTimeout = 2 * time.Second
	// crashRecoveryWithin bounds the wait, after a restart (or at the start), until every
	// writer has had a write acknowledged.
	crashRecoveryWithin = 30 * time.Second
)

// crashOp is one mutation a writer sent, as the client saw it.
type crashOp struct {
	kind       string // "create", "update" or "delete"
	table      string // "stores" or "items"
	id         string // the row updated or deleted; an acknowledged create's new row
	name       string // a create's name, unique in the run
	price      int64  // an update's price, whole units; every writer's prices for a row increase
	acked      bool
	start, end time.Time
}

// crashRun is what the writers sent and were told.
type crashRun struct {
	t *testing.T
	s *server

	mu   sync.Mutex
	ops  []crashOp
	acks []int // acknowledged steps per writer
}

// crashWriter makes step n of writer w and reports whether all of it was acknowledged.
type crashWriter func(w, n int) bool

func TestAcknowledgedWritesSurvivePostgresCrashes(t *testing.T) {
	pg := startPGCluster(t)
	s := startServerWith(t, "postgres", pg.URL, serverOptions{env: []string{"REQUEST_TIMEOUT=" + crashRequestTimeout.String()}, noExitCheck: true})
	db, err := sql.Open("pgx", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A crash loses a write answered before its commit record was written to the WAL (an
	// immediate stop kills the server's processes; what they wrote to files survives). On
	// an idle disk that takes microseconds and few crashes land in between; commit_delay
	// holds every commit back 1 ms before its WAL write, as queueing behind other commits'
	// fsync on a busy disk does, so every crash finds writes there. ALTER SYSTEM keeps it
	// across restarts.
	for _, stmt := range []string{"ALTER SYSTEM SET commit_delay = 1000", "ALTER SYSTEM SET commit_siblings = 0", "SELECT pg_reload_conf()"} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	shop := createStore(t, s, "Crash shop")
	r := &crashRun{t: t, s: s}

	creator := func(table string) crashWriter {
		return func(w, n int) bool {
			_, ok := r.create(table, fmt.Sprintf("w%d-%d", w, n), shop.ID)
			return ok
		}
	}
	// An updater owns its rows and writes each one increasing prices, one write at a time.
	updater := func(rows int) crashWriter {
		var ids []string
		for range rows {
			ids = append(ids, createItem(t, s, shop.ID, "owned", 0).ID)
		}
		return func(w, n int) bool { return r.update(ids[n%rows], int64(n+1)) }
	}
	// A deleter deletes the rows it has just created.
	deleter := func(table string) crashWriter {
		return func(w, n int) bool {
			id, ok := r.create(table, fmt.Sprintf("w%d-%d", w, n), shop.ID)
			return ok && r.delete(table, id)
		}
	}
	writers := []crashWriter{
		creator("items"), creator("items"), creator("stores"),
		updater(3), updater(3),
		deleter("items"), deleter("items"), deleter("stores"),
	}
	r.acks = make([]int, len(writers))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w, step := range writers {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if step(w, n) {
					r.mu.Lock()
					r.acks[w]++
					r.mu.Unlock()
					continue
				}
				select { // the database is away: do not spin
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
	}
	stopWriters := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWriters() // before the server and the cluster go, on every path

	var crashes []time.Time
	for cycle := 0; ; cycle++ {
		if !r.everyWriterAcknowledgedSince(r.acksNow(), crashRecoveryWithin) {
			t.Fatalf("cycle %d: some writer had no write acknowledged within %v (acknowledged so far per writer: %v)", cycle, crashRecoveryWithin, r.acksNow())
		}
		if cycle == crashCycles {
			break
		}
		crashes = append(crashes, time.Now())
		if err := pg.pgCtl("stop", "-m", "immediate"); err != nil {
			t.Fatalf("crash %d: %v", cycle+1, err)
		}
		pg.Start(t)
	}
	stopWriters()
	if s.Exited() {
		t.Fatalf("the server exited: %v", s.waitErr)
	}

	r.verify(t, db, crashes)
}

// acksNow copies the acknowledged steps per writer.
func (r *crashRun) acksNow() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.acks)
}

// everyWriterAcknowledgedSince waits up to d until every writer has had a step
// acknowledged beyond the counts in before.
func (r *crashRun) everyWriterAcknowledgedSince(before []int, d time.Duration) bool {
	return eventually(d, func() bool {
		now := r.acksNow()
		for w := range now {
			if now[w] <= before[w] {
				return false
			}
		}
		return true
	})
}

// send posts one mutation and records it with its outcome; UNAVAILABLE is the only failure
// the test allows. An acknowledged create's op carries the new row's id.
func (r *crashRun) send(op crashOp, query string, v vars) crashOp {
	op.start = time.Now()
	resp, err := r.s.GraphQL(context.Background(), query, v)
	op.end = time.Now()
	var data map[string]json.RawMessage
	switch {
	case err != nil:
		r.t.Errorf("%s %s %s: no GraphQL answer: %v", op.kind, op.table, op.id, err)
	case resp.Status != http.StatusOK && !unavailableBeforeExecution(resp):
		r.t.Errorf("%s %s %s: status %d: %s", op.kind, op.table, op.id, resp.Status, resp.Raw)
	case len(resp.Errors) == 0:
		if json.Unmarshal(resp.Data, &data) != nil || len(data) != 1 {
			r.t.Errorf("%s %s %s: data %s, want one field", op.kind, op.table, op.id, resp.Data)
			break
		}
		op.acked = true
		if op.kind == "create" {
			var row struct{ ID string }
			for _, f := range data {
				_ = json.Unmarshal(f, &row)
			}
			if op.id = row.ID; op.id == "" {
				r.t.Errorf("create %s: answer %s has no id", op.table, resp.Data)
				op.acked = false
			}
		}
	case !slices.Equal(resp.Codes(), []string{"UNAVAILABLE"}):
		r.t.Errorf("%s %s %s: %s, want success or UNAVAILABLE", op.kind, op.table, op.id, resp.Raw)
	}
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
	return op
}

func (r *crashRun) create(table, name, storeID string) (id string, acked bool) {
	query, v := `mutation($n: String!) { createStore(input: {name: $n}) { id } }`, vars{"n": name}
	if table == "items" {
		query, v = `mutation($n: String!, $s: ID!) { createItem(input: {name: $n, price: 1, storeId: $s}) { id } }`, vars{"n": name, "s": storeID}
	}
	op := r.send(crashOp{kind: "create", table: table, name: name}, query, v)
	return op.id, op.acked
}

func (r *crashRun) update(id string, price int64) bool {
	return r.send(crashOp{kind: "update", table: "items", id: id, price: price},
		`mutation($id: ID!, $p: Float!) { updateItem(id: $id, input: {price: $p}) { id } }`, vars{"id": id, "p": price}).acked
}

func (r *crashRun) delete(table, id string) bool {
	query := `mutation($id: ID!) { deleteStore(id: $id) }`
	if table == "items" {
		query = `mutation($id: ID!) { deleteItem(id: $id) }`
	}
	return r.send(crashOp{kind: "delete", table: table, id: id}, query, vars{"id": id}).acked
}

// crashRow is a row as the database holds it after the crashes.
type crashRow struct {
	name  string
	price int64 // whole units; items only
}

// verify reads the database directly and checks every acknowledged write against it:
//   - an acknowledged create's row is there, with its name (a lost insert's id may be handed
//     out again after recovery), unless a delete of it was sent;
//   - an acknowledged delete's row is gone;
//   - an updated row's price is at least the last acknowledged one and at most the last one
//     sent. A writer sends a row's next price only after the answer to the previous one; a
//     write that commits takes the row lock before its answer and keeps it until its commit,
//     so the row's commits come in the order the prices were sent: what is stored is the last
//     committed price, and every acknowledged price was committed.
func (r *crashRun) verify(t *testing.T, db *sql.DB, crashes []time.Time) {
	// By global ID, as the writers were told them.
	stored := map[string]map[string]crashRow{"stores": {}, "items": {}}
	for table, read := range map[string]struct{ typeName, query string }{
		"stores": {storeType, `SELECT id, name, 0 FROM stores`},
		"items":  {itemType, `SELECT id, name, price_cents / 100 FROM items`},
	} {
		rows, err := db.Query(read.query)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var row crashRow
			if err := rows.Scan(&id, &row.name, &row.price); err != nil {
				t.Fatal(err)
			}
			stored[table][globalID(read.typeName, id)] = row
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}

	type key struct{ table, id string }
	deleteSent := map[key]bool{}
	for _, op := range r.ops {
		if op.kind == "delete" {
			deleteSent[key{op.table, op.id}] = true
		}
	}
	type priceRange struct{ acked, sent int64 }
	prices := map[string]priceRange{}
	acked := map[string]int{}
	lost := map[string]int{}
	unavailable, inFlight := 0, make([]int, len(crashes))
	for _, op := range r.ops {
		for i, at := range crashes {
			if op.start.Before(at) && op.end.After(at) {
				inFlight[i]++
			}
		}
		if !op.acked {
			unavailable++
		}
		switch row, ok := stored[op.table][op.id]; {
		case op.kind == "update":
			p := prices[op.id]
			p.sent = max(p.sent, op.price)
			if op.acked {
				p.acked = max(p.acked, op.price)
			}
			prices[op.id] = p
		case !op.acked:
		case op.kind == "create" && !deleteSent[key{op.table, op.id}] && (!ok || row.name != op.name):
			lost[op.kind]++
			t.Errorf("acknowledged create of %s %s (%q) lost: the row is %+v (present %v)", op.table, op.id, op.name, row, ok)
		case op.kind == "delete" && ok:
			lost[op.kind]++
			t.Errorf("acknowledged delete of %s %s lost: the row %+v is still there", op.table, op.id, row)
		}
		if op.acked {
			acked[op.kind]++
		}
	}
	for id, p := range prices {
		row, ok := stored["items"][id]
		switch {
		case !ok:
			t.Errorf("updated item %s is gone", id)
		case row.price < p.acked:
			lost["update"]++
			t.Errorf("acknowledged update of item %s lost: price %d stored, %d acknowledged last (%d sent last)", id, row.price, p.acked, p.sent)
		case row.price > p.sent:
			t.Errorf("item %s has price %d, beyond the last one sent (%d)", id, row.price, p.sent)
		}
	}
	if slices.Max(inFlight) == 0 {
		t.Errorf("no write was in flight at any of the %d crashes: they were not exercised", len(crashes))
	}
	t.Logf("%d crashes, writes in flight at each: %v; acknowledged %v, %d not (UNAVAILABLE); lost %v",
		len(crashes), inFlight, acked, unavailable, lost)
}
