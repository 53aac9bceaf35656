package e2e

// Durable subscriptions under load: writers change stores and items as fast as they can
// while subscribers disconnect and resume from cursors they received (on the same process
// or, once theirs is gone, on another). Afterwards every subscriber's events, in order,
// are exactly those of a subscriber that never disconnected, and those hold every
// acknowledged write exactly once, in the order each row's writes were acknowledged.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage/storagetest"
)

// The subscriptions of a load run, in the order of the reference's streams.
const (
	liveStores   = iota // storeEvents
	liveItems           // itemEvents
	liveHubItems        // itemEvents(storeId: the hub)
	liveSubscriptions
)

var liveSubscriptionNames = [liveSubscriptions]string{"storeEvents", "itemEvents", "itemEvents(hub)"}

// liveLoad is one run of writers and subscribers on the servers of one database.
type liveLoad struct {
	t       *testing.T
	writeTo *server
	hub     string // the store that writers move items into and out of

	// start is, per subscription, the reference's marker event the resumers start after;
	// end holds the ids of the end markers, written once the writers have stopped.
	start [liveSubscriptions]liveEvent
	end   atomic.Pointer[liveMarkers]

	mu sync.Mutex
	// expected is, per row (global ID), the kinds its acknowledged writes recorded, in the
	// order they were acknowledged (the cascade of a store's deletion included).
	expected map[string][]string
	probes   map[string]bool // rows the probes wrote, before the start markers
	acked    atomic.Int64
}

type liveMarkers struct{ store, item string }

// liveWriteTimeout bounds one write of a load run.
const liveWriteTimeout = 30 * time.Second

// write sends one mutation and returns its data; any failure stops the run's writer: the
// writers only make writes the server must accept.
func (l *liveLoad) write(query string, v vars) (map[string]json.RawMessage, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), liveWriteTimeout)
	defer cancel()
	r, err := l.writeTo.GraphQL(ctx, query, v)
	var data map[string]json.RawMessage
	switch {
	case err != nil:
		l.t.Errorf("write %s %v: %v", query, v, err)
	case len(r.Errors) > 0 || r.Status != 200:
		l.t.Errorf("write %s %v: HTTP %d %s", query, v, r.Status, r.Raw)
	case json.Unmarshal(r.Data, &data) != nil:
		l.t.Errorf("write %s %v: data %s", query, v, r.Data)
	default:
		l.acked.Add(1)
		return data, true
	}
	return nil, false
}

// record notes that the acknowledged write to row recorded kind.
func (l *liveLoad) record(row string, kinds ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expected[row] = append(l.expected[row], kinds...)
}

func (l *liveLoad) createStore(name string) (string, bool) {
	d, ok := l.write(`mutation($n: String!) { createStore(input: {name: $n}) { id } }`, vars{"n": name})
	return l.created(d, ok, "createStore")
}

func (l *liveLoad) createItem(name, store string) (string, bool) {
	d, ok := l.write(`mutation($n: String!, $s: ID!) { createItem(input: {name: $n, price: 1, storeId: $s}) { id } }`, vars{"n": name, "s": store})
	return l.created(d, ok, "createItem")
}

func (l *liveLoad) created(d map[string]json.RawMessage, ok bool, field string) (string, bool) {
	if !ok {
		return "", false
	}
	var row struct{ ID string }
	if json.Unmarshal(d[field], &row) != nil || row.ID == "" {
		l.t.Errorf("%s answered %s", field, d[field])
		return "", false
	}
	l.record(row.ID, "CREATED")
	return row.ID, true
}

// writer runs cycles of writes until stop is closed: a store of its own with three items,
// updated, one moved to the hub (and, later, one of the hub's moved back), deleted one by
// one and then with the store (the cascade deletes the rest). Each row is written by this
// writer alone, one write after the other.
func (l *liveLoad) writer(w int, stop <-chan struct{}) {
	var inHub []string // this writer's items in the hub
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		store, ok := l.createStore(fmt.Sprintf("load w%d-%d", w, n))
		if !ok {
			return
		}
		var items []string
		for i := range 3 {
			id, ok := l.createItem(fmt.Sprintf("w%d-%d-%d", w, n, i), store)
			if !ok {
				return
			}
			items = append(items, id)
		}
		steps := []struct {
			row, query string
			v          vars
		}{
			{items[0], `mutation($id: ID!) { updateItem(id: $id, input: {price: 2}) { id } }`, vars{"id": items[0]}},
			{items[1], `mutation($id: ID!, $s: ID!) { updateItem(id: $id, input: {storeId: $s}) { id } }`, vars{"id": items[1], "s": l.hub}},
			{store, `mutation($id: ID!, $n: String!) { updateStore(id: $id, input: {name: $n}) { id } }`, vars{"id": store, "n": fmt.Sprintf("load w%d-%d renamed", w, n)}},
		}
		inStore := []string{items[0], items[2]}
		if len(inHub) > 0 {
			back := inHub[0]
			inHub = inHub[1:]
			steps = append(steps, struct {
				row, query string
				v          vars
			}{back, `mutation($id: ID!, $s: ID!) { updateItem(id: $id, input: {storeId: $s, name: "back"}) { id } }`, vars{"id": back, "s": store}})
			inStore = append(inStore, back)
		}
		inHub = append(inHub, items[1])
		for _, st := range steps {
			if _, ok := l.write(st.query, st.v); !ok {
				return
			}
			l.record(st.row, "UPDATED")
		}
		if _, ok := l.write(`mutation($id: ID!) { deleteItem(id: $id) }`, vars{"id": items[2]}); !ok {
			return
		}
		l.record(items[2], "DELETED")
		inStore = slices.DeleteFunc(inStore, func(id string) bool { return id == items[2] })
		if _, ok := l.write(`mutation($id: ID!) { deleteStore(id: $id) }`, vars{"id": store}); !ok {
			return
		}
		l.record(store, "DELETED")
		for _, id := range inStore {
			l.record(id, "DELETED")
		}
	}
}

// resumer is one subscriber that keeps disconnecting and resuming.
type resumer struct {
	name string
	sub  int // liveStores, liveItems or liveHubItems
	sse  bool
	// churn: disconnect after a few events (or a moment without any) and resume at a
	// random cursor received; otherwise stay until the stream breaks and resume at the last.
	churn bool
	// on is the server to subscribe to now.
	on func() *server

	got     []liveEvent // the events in log order, as far as received
	pos     int         // where the next delivered event goes in got
	resumes atomic.Int32
	fresh   atomic.Int32  // events received beyond any received before
	done    chan struct{} // closed when run returns
}

// request is r's subscription, resuming after cursor.
func (l *liveLoad) request(sub int, cursor string) subscriptionRequest {
	v := vars{"after": cursor}
	switch sub {
	case liveStores:
		return subscriptionRequest{storeEventsSubscription, v}
	case liveHubItems:
		v["store"] = l.hub
	}
	return subscriptionRequest{itemEventsSubscription, v}
}

// open subscribes on s; an error when the server is not there (or refuses).
func (r *resumer) open(s *server, req subscriptionRequest) (eventStream, error) {
	ctx, cancel := context.WithTimeout(context.Background(), streamWait)
	defer cancel()
	if r.sse {
		hr, err := sseRequest(context.Background(), s, "POST", req.query, req.variables, "")
		if err != nil {
			return nil, err
		}
		return openSSE(s, hr)
	}
	c, _, err := dialWS(ctx, s, wsDialOptions{})
	if err != nil {
		return nil, err
	}
	payload, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + s.token}})
	sub, _ := json.Marshal(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": req.query, "variables": req.variables}})
	for _, m := range [][]byte{payload, sub} {
		if err := c.write(m); err != nil {
			c.conn.CloseNow()
			return nil, err
		}
	}
	if m, err := c.take("", streamWait); err != nil || m.Type != "connection_ack" {
		c.conn.CloseNow()
		return nil, fmt.Errorf("connection_init: %v %v", m, err)
	}
	return wsStream{c: c, id: "1", own: true}, nil
}

// run subscribes, reads, disconnects and resumes until it has received the end marker
// or quit is closed. Problems are reported through l.t.
func (r *resumer) run(l *liveLoad, rng *rand.Rand, quit <-chan struct{}) {
	defer close(r.done)
	for {
		select {
		case <-quit:
			return
		default:
		}
		if r.reachedEnd(l) {
			return
		}
		cursor := l.start[r.sub].Cursor
		if r.churn {
			// Anywhere among the last events received, or the start.
			r.pos = max(0, r.pos-rng.IntN(min(r.pos, 30)+1))
		}
		if r.pos > 0 {
			cursor = r.got[r.pos-1].Cursor
		}
		on := r.on()
		st, err := r.open(on, l.request(r.sub, cursor))
		if err != nil {
			select { // a process is gone: try again, maybe elsewhere
			case <-quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		r.resumes.Add(1)
		budget := 1 + rng.IntN(40)
		for n := 0; ; n++ {
			// While the writers write, a churning resumer takes a moment without events as
			// its cue to resume elsewhere in the log; at the end, it waits for the marker.
			hurry := r.churn && l.end.Load() == nil
			wait := streamWait
			if hurry {
				wait = 300 * time.Millisecond
			}
			e, err := r.await(l, st, wait)
			if errors.Is(err, errReachedEnd) {
				st.close()
				return
			}
			if errors.Is(err, errNothingCame) && hurry || errors.Is(err, errStreamEnded) && !r.churn {
				break
			}
			if err != nil {
				l.t.Errorf("%s, resumed on %s after %s (%d events in, the last %v): %v", r.name, on.Addr, cursor, r.pos, r.last(), err)
				st.close()
				return
			}
			if !r.deliver(l, e) {
				st.close()
				return
			}
			if r.reachedEnd(l) {
				st.close()
				return
			}
			if r.churn && n+1 >= budget {
				break
			}
		}
		if ws, ok := st.(wsStream); ok && rng.IntN(2) == 0 {
			ws.c.conn.CloseNow() // gone without a close frame, as a dropped network would
		} else {
			st.close()
		}
	}
}

// errReachedEnd: nothing more will come, and none is due.
var errReachedEnd = errors.New("the end marker has come")

// await is st's next event, waiting up to d. The end marker's event may come before the
// marker is known (it is known once its writes are acknowledged): while waiting, r looks
// for it among what it has.
func (r *resumer) await(l *liveLoad, st eventStream, d time.Duration) (liveEvent, error) {
	deadline := time.Now().Add(d)
	for {
		e, err := st.next(min(200*time.Millisecond, time.Until(deadline)))
		if !errors.Is(err, errNothingCame) || !time.Now().Before(deadline) {
			return e, err
		}
		if r.reachedEnd(l) {
			return liveEvent{}, errReachedEnd
		}
	}
}

// reachedEnd reports whether r has received the end marker: the writers are done, and so
// is r. It may have received it before the marker was known, and gone on.
func (r *resumer) reachedEnd(l *liveLoad) bool {
	m := l.end.Load()
	return m != nil && slices.ContainsFunc(r.got[:r.pos], func(e liveEvent) bool {
		return e.Kind == "CREATED" && (e.ItemID == m.item || e.ItemID == "" && e.StoreID == m.store)
	})
}

// last is the last event r received, for messages.
func (r *resumer) last() any {
	if r.pos == 0 {
		return "none"
	}
	return r.got[r.pos-1]
}

// deliver places e at r.pos: an event received before must come again the same.
func (r *resumer) deliver(l *liveLoad, e liveEvent) bool {
	if r.pos < len(r.got) {
		if r.got[r.pos] != e {
			l.t.Errorf("%s: resumed, event %d is %v; before it was %v", r.name, r.pos, e, r.got[r.pos])
			return false
		}
	} else {
		r.got = append(r.got, e)
		r.fresh.Add(1)
	}
	r.pos++
	return true
}

// liveLoadOptions shape a load run.
type liveLoadOptions struct {
	writeTo  *server // where the writers and the reference are
	writers  int
	resumers []*resumer
	// during runs while the writers write; the writers stop when it returns.
	during func(l *liveLoad)
}

// runLiveLoad runs writers and subscribers and checks what every subscriber received.
func runLiveLoad(t *testing.T, o liveLoadOptions) {
	s := o.writeTo
	l := &liveLoad{t: t, writeTo: s, expected: map[string][]string{}, probes: map[string]bool{}}
	l.hub = createStore(t, s, "load hub").ID
	l.probes[l.hub] = true

	// The reference: one connection, never broken, from before the writers start.
	ref := openInitWS(t, s)
	streams := subscribeFromNow(t, ref, func(n int) {
		l.probes[probeWrite(t, s, l.hub, n)] = true
	}, l.request(liveStores, "").withoutAfter(), l.request(liveItems, "").withoutAfter(), l.request(liveHubItems, "").withoutAfter())
	startStore := createStore(t, s, "load start").ID
	startItem := createItem(t, s, l.hub, "load start", 1).ID
	l.probes[startStore], l.probes[startItem] = true, true
	l.start[liveStores] = skipTo(t, streams[liveStores], isCreated(startStore))
	l.start[liveItems] = skipTo(t, streams[liveItems], isCreated(startItem))
	l.start[liveHubItems] = skipTo(t, streams[liveHubItems], isCreated(startItem))

	var refs [liveSubscriptions][]liveEvent
	var resumersDone sync.WaitGroup
	quit := make(chan struct{})
	defer func() { close(quit); resumersDone.Wait() }() // on every path: they report through t
	for i, r := range o.resumers {
		r.done = make(chan struct{})
		rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
		resumersDone.Go(func() { r.run(l, rng, quit) })
	}
	stop := make(chan struct{})
	var writers sync.WaitGroup
	stopWriters := sync.OnceFunc(func() { close(stop); writers.Wait() })
	defer stopWriters()
	for w := range o.writers {
		writers.Go(func() { l.writer(w, stop) })
	}
	started := time.Now()
	o.during(l)
	stopWriters()
	wrote := time.Since(started)
	if t.Failed() {
		return
	}

	endStore, endItem := createStore(t, s, "load end").ID, createItem(t, s, l.hub, "load end", 1).ID
	l.end.Store(&liveMarkers{store: endStore, item: endItem})
	for i, st := range streams {
		marker := isCreated(endItem)
		if i == liveStores {
			marker = isCreated(endStore)
		}
		for {
			e, err := st.next(30 * time.Second)
			if err != nil {
				logEventLog(t, s)
				t.Fatalf("the reference's %s, after %d events: %v", liveSubscriptionNames[i], len(refs[i]), err)
			}
			refs[i] = append(refs[i], e)
			if marker(e) {
				break
			}
		}
	}
	for _, r := range o.resumers {
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			logEventLog(t, s)
			t.Fatalf("%s did not reach the end marker within 30s: it has %d events, the reference %d", r.name, len(r.got), len(refs[r.sub]))
		}
	}
	if t.Failed() {
		return
	}

	for i, evs := range refs {
		checkUniqueCursors(t, liveSubscriptionNames[i], evs)
	}
	for _, r := range o.resumers {
		checkSameEvents(t, r.name, r.got, refs[r.sub])
	}
	checkHubFilter(t, l, refs[liveItems], refs[liveHubItems])
	checkAcknowledged(t, l, refs)

	var resumes []string
	for _, r := range o.resumers {
		resumes = append(resumes, fmt.Sprintf("%s %d", r.name, r.resumes.Load()))
	}
	t.Logf("%d writers, %d writes acknowledged in %v; %d store and %d item events; resumes: %s",
		o.writers, l.acked.Load(), wrote.Round(time.Millisecond), len(refs[liveStores]), len(refs[liveItems]), strings.Join(resumes, ", "))
}

// withoutAfter is r from the present.
func (r subscriptionRequest) withoutAfter() subscriptionRequest {
	v := vars{}
	for k, x := range r.variables {
		if k != "after" {
			v[k] = x
		}
	}
	return subscriptionRequest{r.query, v}
}

func checkUniqueCursors(t *testing.T, name string, evs []liveEvent) {
	seen := map[string]int{}
	for i, e := range evs {
		if j, dup := seen[e.Cursor]; dup {
			t.Errorf("the reference's %s delivered cursor %s twice: events %d (%v) and %d (%v)", name, e.Cursor, j, evs[j], i, e)
		}
		seen[e.Cursor] = i
	}
}

// checkSameEvents fails t unless got is want, event for event.
func checkSameEvents(t *testing.T, name string, got, want []liveEvent) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			t.Errorf("%s has %d events, the reference %d; they differ at %d: got %v, want %v",
				name, len(got), len(want), i, window(got, i), window(want, i))
			return
		}
	}
}

// window is evs around i, for messages.
func window(evs []liveEvent, i int) []liveEvent {
	return evs[max(0, min(i-2, len(evs))):min(len(evs), i+3)]
}

// checkHubFilter: itemEvents(storeId: hub) is itemEvents of the items in the hub, those
// moved out of it included (an event whose previous store, by the item's event before it,
// was the hub), from the hub subscription's start marker on.
func checkHubFilter(t *testing.T, l *liveLoad, items, hub []liveEvent) {
	// Both start after the same event: the start marker, an item created in the hub.
	var want []liveEvent
	storeOf := map[string]string{}
	for _, e := range items {
		if e.StoreID == l.hub || storeOf[e.ItemID] == l.hub {
			want = append(want, e)
		}
		storeOf[e.ItemID] = e.StoreID
	}
	checkSameEvents(t, "itemEvents(storeId: hub) by itemEvents' storeIds", hub, want)
}

// checkAcknowledged: the reference holds, for every row the writers wrote, the kinds of
// their acknowledged writes in the order they were acknowledged, and nothing else beyond
// the probes and markers.
func checkAcknowledged(t *testing.T, l *liveLoad, refs [liveSubscriptions][]liveEvent) {
	got := map[string][]string{}
	for _, evs := range [][]liveEvent{refs[liveStores], refs[liveItems]} {
		for _, e := range evs[:len(evs)-1] { // the end marker
			row := e.StoreID
			if e.ItemID != "" {
				row = e.ItemID
			}
			got[row] = append(got[row], e.Kind)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	missing := 0
	for row, kinds := range l.expected {
		if !slices.Equal(got[row], kinds) {
			if missing++; missing <= 10 {
				t.Errorf("row %s: the log has %v, the acknowledged writes %v", row, got[row], kinds)
			}
		}
	}
	if missing > 10 {
		t.Errorf("... and %d more rows whose events differ from their acknowledged writes", missing-10)
	}
	for row, kinds := range got {
		if _, ok := l.expected[row]; !ok && !l.probes[row] {
			t.Errorf("row %s has events %v but no acknowledged write", row, kinds)
		}
	}
}

// liveResumers are the resumers of a churning run: every subscription over both
// transports, against one server.
func liveResumers(s func() *server, churn bool) []*resumer {
	var rs []*resumer
	for sub := range liveSubscriptions {
		for _, sse := range []bool{false, true} {
			transport := "WebSocket"
			if sse {
				transport = "SSE"
			}
			rs = append(rs, &resumer{name: transport + " " + liveSubscriptionNames[sub], sub: sub, sse: sse, churn: churn, on: s})
		}
	}
	return rs
}

// whileResuming is a during that lets the writers write for at least d and until every
// resumer has resumed at least n times and received an event of its own since.
func whileResuming(t *testing.T, rs []*resumer, d time.Duration, n int32) func(l *liveLoad) {
	return func(l *liveLoad) {
		deadline := time.Now().Add(d)
		if !eventually(d+60*time.Second, func() bool {
			for _, r := range rs {
				select {
				case <-r.done:
					return true // it gave up, and said why
				default:
				}
			}
			if time.Now().Before(deadline) {
				return false
			}
			for _, r := range rs {
				if r.resumes.Load() < n {
					return false
				}
			}
			return true
		}) {
			for _, r := range rs {
				t.Logf("%s: %d resumes, %d events", r.name, r.resumes.Load(), r.fresh.Load())
			}
			t.Errorf("not every resumer resumed %d times", n)
		}
	}
}

// eachIsolatedDatabase is eachDatabase with Postgres on a cluster of the test's own.
// Stamping waits for every transaction of the cluster to end: another test's long one (a
// lock it holds on purpose, say) would hold the log back for as long, which a test that
// counts on prompt events cannot tell from a fault.
func eachIsolatedDatabase(t *testing.T, fn func(t *testing.T, backend, dbURL string)) {
	t.Helper()
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			if b.Name == "postgres" {
				fn(t, b.Name, startPGCluster(t).URL)
				return
			}
			fn(t, b.Name, b.New(t))
		})
	}
}

// The run length of the load tests: long enough for thousands of writes and many resumes.
const liveWriting = 4 * time.Second

func TestSubscriptionsResumeUnderLoadWithoutGapOrDuplicate(t *testing.T) {
	t.Parallel()
	eachIsolatedDatabase(t, func(t *testing.T, backend, dbURL string) {
		s := startServer(t, backend, dbURL)
		rs := liveResumers(func() *server { return s }, true)
		runLiveLoad(t, liveLoadOptions{writeTo: s, writers: 32, resumers: rs, during: whileResuming(t, rs, liveWriting, 5)})
	})
}

// TestSubscriberResumesOnAnotherProcessAfterSIGKILL: subscribers on one process, writers
// and the reference on another on the same Postgres database. The first is killed; its
// subscribers resume on the other from the last cursor they received and lose nothing.
func TestSubscriberResumesOnAnotherProcessAfterSIGKILL(t *testing.T) {
	t.Parallel()
	dbURL := startPGCluster(t).URL
	a := startServerWith(t, "postgres", dbURL, serverOptions{noExitCheck: true})
	b := startServer(t, "postgres", dbURL)
	var killed atomic.Bool
	on := func() *server {
		if killed.Load() {
			return b
		}
		return a
	}
	rs := liveResumers(on, false)
	runLiveLoad(t, liveLoadOptions{writeTo: b, writers: 16, resumers: rs, during: func(l *liveLoad) {
		freshBy := func(n int32) bool {
			for _, r := range rs {
				if r.sub != liveHubItems && r.fresh.Load() < n {
					return false
				}
			}
			return true
		}
		if !eventually(30*time.Second, func() bool { return freshBy(50) }) {
			t.Errorf("the subscribers on the first process did not each receive 50 events")
			return
		}
		killed.Store(true)
		a.kill()
		before := map[*resumer]int32{}
		for _, r := range rs {
			before[r] = r.fresh.Load()
		}
		if !eventually(30*time.Second, func() bool {
			for _, r := range rs {
				if r.resumes.Load() < 2 || r.sub != liveHubItems && r.fresh.Load() < before[r]+50 {
					return false
				}
			}
			return true
		}) {
			t.Errorf("the subscribers did not resume on the second process and receive 50 more events each")
		}
	}})
}

// TestSubscriptionsSurviveTheListenerConnectionBeingTerminated: the server's LISTEN
// connection is terminated (twice) while writes go on; subscriptions carry on and lose
// nothing. The cluster is the test's own, so the only LISTEN is the server's.
func TestSubscriptionsSurviveTheListenerConnectionBeingTerminated(t *testing.T) {
	t.Parallel()
	pg := startPGCluster(t)
	s := startServer(t, "postgres", pg.URL)
	db := openDB(t, s)
	listener := func() (pid int, ok bool) {
		rows, err := db.Query(`SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query ILIKE 'listen%'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var pids []int
		for rows.Next() {
			if err := rows.Scan(&pid); err != nil {
				t.Fatal(err)
			}
			pids = append(pids, pid)
		}
		if len(pids) > 1 {
			t.Fatalf("%d connections run LISTEN (pids %v), want the server's one", len(pids), pids)
		}
		return pid, len(pids) == 1
	}
	rs := liveResumers(func() *server { return s }, true)[:2] // one of each transport
	runLiveLoad(t, liveLoadOptions{writeTo: s, writers: 16, resumers: rs, during: func(l *liveLoad) {
		var pid int
		if !eventually(streamWait, func() (ok bool) { pid, ok = listener(); return ok }) {
			logActivity(t, db)
			t.Fatal("no connection of the server runs LISTEN")
		}
		for round := range 2 {
			acked := l.acked.Load()
			if !eventually(30*time.Second, func() bool { return l.acked.Load() >= acked+300 }) {
				t.Errorf("round %d: the writers did not make 300 writes", round)
				return
			}
			var terminated bool
			if err := db.QueryRow(`SELECT pg_terminate_backend($1)`, pid).Scan(&terminated); err != nil || !terminated {
				t.Fatalf("pg_terminate_backend(%d): %v, %v", pid, terminated, err)
			}
			old := pid
			if !eventually(30*time.Second, func() (ok bool) { pid, ok = listener(); return ok && pid != old }) {
				logActivity(t, db)
				t.Fatalf("round %d: the server did not LISTEN again after its connection (pid %d) was terminated", round, old)
			}
			t.Logf("round %d: terminated LISTEN connection %d; listening again on %d", round, old, pid)
		}
		acked := l.acked.Load()
		if !eventually(30*time.Second, func() bool { return l.acked.Load() >= acked+300 }) {
			t.Errorf("the writers did not make 300 writes after the last termination")
		}
	}})
}

// logActivity logs the connections of pg_stat_activity, for a test that did not find
// the one it looked for.
func logActivity(t *testing.T, db *sql.DB) {
	rows, err := db.Query(`SELECT pid, coalesce(application_name, ''), coalesce(state, ''), coalesce(wait_event, ''), coalesce(query, '') FROM pg_stat_activity WHERE backend_type = 'client backend'`)
	if err != nil {
		t.Logf("pg_stat_activity: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		var app, state, wait, query string
		if err := rows.Scan(&pid, &app, &state, &wait, &query); err == nil {
			t.Logf("pg_stat_activity: pid %d app %q state %q wait %q query %q", pid, app, state, wait, query)
		}
	}
}

// logEventLog logs where s's change log stands, for a run whose subscribers did not get to
// its end: how many events there are and, on Postgres, how far they are stamped.
func logEventLog(t *testing.T, s *server) {
	db := openDB(t, s)
	var n, maxID int64
	if err := db.QueryRow(`SELECT count(*), coalesce(max(id), 0) FROM events`).Scan(&n, &maxID); err != nil {
		t.Logf("events: %v", err)
		return
	}
	t.Logf("events: %d, the last id %d", n, maxID)
	if s.Backend != "postgres" {
		return
	}
	var unstamped, maxSeq, clock int64
	if err := db.QueryRow(`SELECT count(*) FILTER (WHERE seq IS NULL), coalesce(max(seq), 0), (SELECT seq FROM event_clock) FROM events`).Scan(&unstamped, &maxSeq, &clock); err != nil {
		t.Logf("stamping: %v", err)
		return
	}
	t.Logf("events: %d unstamped, the last seq %d, event_clock.seq %d", unstamped, maxSeq, clock)
}

// TestSubscriptionsLoseNothingWhileALongTransactionIsOpen: a transaction left open (with an
// xid, as a write has) holds back no one's events but its own, twice, while writers write:
// every acknowledged write still arrives, once, in order, while it is open and after it ends.
func TestSubscriptionsLoseNothingWhileALongTransactionIsOpen(t *testing.T) {
	t.Parallel()
	pg := startPGCluster(t)
	s := startServer(t, "postgres", pg.URL)
	db := openDB(t, s)
	rs := liveResumers(func() *server { return s }, false)
	runLiveLoad(t, liveLoadOptions{writeTo: s, writers: 16, resumers: rs, during: func(l *liveLoad) {
		for round := range 2 {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			var xid int64
			if err := tx.QueryRow(`SELECT txid_current()`).Scan(&xid); err != nil { // an xid, as a write has
				t.Fatal(err)
			}
			acked := l.acked.Load()
			held := eventually(30*time.Second, func() bool { return l.acked.Load() >= acked+500 })
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if !held {
				t.Fatalf("round %d: the writers did not make 500 writes while the transaction was open", round)
			}
			t.Logf("round %d: %d writes while transaction %d was open", round, l.acked.Load()-acked, xid)
		}
		acked := l.acked.Load()
		if !eventually(30*time.Second, func() bool { return l.acked.Load() >= acked+200 }) {
			t.Errorf("the writers did not make 200 writes after the last transaction ended")
		}
	}})
}
