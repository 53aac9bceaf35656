package e2e

// Cursors of the change log: resuming after one (the after argument, SSE's Last-Event-ID),
// on this process or another on the same database; expired and malformed ones.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage/storagetest"
)

// TestEventsReachSubscribersOnAnotherProcess: two processes on one Postgres database;
// what is written through either reaches the subscribers of both, over both transports,
// in one order.
func TestEventsReachSubscribersOnAnotherProcess(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.NewPostgres(t)
	a, b := startServer(t, "postgres", dbURL), startServer(t, "postgres", dbURL)

	// Probes written through b until a's subscription delivers them: b's writes reach a.
	probe := createStore(t, b, "cross-process probe").ID
	c := openInitWS(t, a)
	first := subscribeFromNow(t, c, func(n int) { probeWrite(t, b, probe, n) }, subscriptionRequest{query: itemEventsSubscription})[0]
	marker := createItem(t, b, probe, "cross-process marker", 1).ID
	base := skipTo(t, first, isCreated(marker))

	after := vars{"after": base.Cursor}
	streams := map[string]eventStream{
		"WebSocket on a": wsSubscribe(t, a, storeEventsSubscription, after),
		"SSE on a":       sseSubscribe(t, a, storeEventsSubscription, after, ""),
		"WebSocket on b": wsSubscribe(t, b, storeEventsSubscription, after),
		"SSE on b":       sseSubscribe(t, b, storeEventsSubscription, after, ""),
	}
	x := createStore(t, a, "Written on a")
	b.OK(t, &struct{ UpdateStore Store }{}, `mutation($id: ID!) { updateStore(id: $id, input: {name: "Renamed on b"}) { id } }`, vars{"id": x.ID})
	y := createStore(t, b, "Written on b")
	a.OK(t, &struct{ DeleteStore string }{}, `mutation($id: ID!) { deleteStore(id: $id) }`, vars{"id": x.ID})
	want := []liveEvent{{Kind: "CREATED", StoreID: x.ID}, {Kind: "UPDATED", StoreID: x.ID}, {Kind: "CREATED", StoreID: y.ID}, {Kind: "DELETED", StoreID: x.ID}}

	var reference []liveEvent
	for name, st := range streams {
		got := collect(t, st, len(want))
		for i := range got {
			e := got[i]
			e.Cursor = ""
			if e != want[i] {
				t.Errorf("%s: event %d is %v, want %v", name, i, got[i], want[i])
			}
		}
		if reference == nil {
			reference = got
		} else {
			checkSameEvents(t, name, got, reference)
		}
	}
}

// TestStreamLastEventIDResumesRightAfterThatEvent: an SSE client reconnecting with
// Last-Event-ID gets every event after that one, whatever its after argument says, then
// the live ones; every event carries its cursor as its id.
func TestStreamLastEventIDResumesRightAfterThatEvent(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		base := baseEvent(t, s)
		ref := wsSubscribe(t, s, storeEventsSubscription, vars{"after": base.Cursor})
		for i := range 6 {
			createStore(t, s, fmt.Sprintf("Resumed %d", i))
		}
		e := collect(t, ref, 6)

		type stream struct {
			name string
			st   *sseStream
			want []liveEvent
		}
		var streams []stream
		for _, tc := range []struct {
			name        string
			method      string
			after       *string
			lastEventID string
			want        []liveEvent
		}{
			{"Last-Event-ID alone", http.MethodPost, nil, e[1].Cursor, e[2:]},
			{"Last-Event-ID over a later after", http.MethodPost, &e[3].Cursor, e[1].Cursor, e[2:]},
			{"Last-Event-ID over an earlier after", http.MethodPost, &base.Cursor, e[1].Cursor, e[2:]},
			{"Last-Event-ID of the newest event", http.MethodPost, nil, e[5].Cursor, nil},
			{"after alone", http.MethodPost, &e[3].Cursor, "", e[4:]},
			{"GET with Last-Event-ID", http.MethodGet, nil, e[0].Cursor, e[1:]},
			{"GET with after", http.MethodGet, &e[2].Cursor, "", e[3:]},
		} {
			v := vars{}
			if tc.after != nil {
				v["after"] = *tc.after
			}
			req, err := sseRequest(context.Background(), s, tc.method, storeEventsSubscription, v, tc.lastEventID)
			if err != nil {
				t.Fatal(err)
			}
			st, err := openSSE(s, req)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			t.Cleanup(st.close)
			streams = append(streams, stream{tc.name, st, tc.want})
		}
		for _, st := range streams {
			checkSameEvents(t, st.name, collect(t, st.st, len(st.want)), st.want)
		}
		// At the seam between the log and the live feed: nothing lost, nothing twice.
		live := createStore(t, s, "Live after the replay")
		next := collect(t, ref, 1)[0]
		if next.StoreID != live.ID {
			t.Fatalf("the reference's next event is %v, want the creation of %s", next, live.ID)
		}
		for _, st := range streams {
			if got, err := st.st.next(streamWait); err != nil || got != next {
				t.Errorf("%s, after the replay: %v, %v; want %v", st.name, got, err, next)
			}
		}
	})
}

// TestSubscriptionCursorExpiredAndMalformed: a cursor older than what EVENT_RETENTION
// keeps is CURSOR_EXPIRED (pruning runs at start and hourly, so a server restarted with a
// short retention prunes what came before, all but the newest event); the newest pruned
// one still resumes, as nothing after it is gone; a cursor that is no cursor is
// BAD_USER_INPUT on after.
func TestSubscriptionCursorExpiredAndMalformed(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		first := startServer(t, backend, dbURL)
		base := baseEvent(t, first)
		ref := wsSubscribe(t, first, storeEventsSubscription, vars{"after": base.Cursor})
		for i := range 3 {
			createStore(t, first, fmt.Sprintf("Pruned %d", i))
		}
		old := collect(t, ref, 3)
		first.Stop(t)

		s := startServer(t, backend, dbURL, "EVENT_RETENTION=1ms")
		subscribeAfter := map[string]func(cursor string) eventStream{
			"WebSocket": func(cursor string) eventStream {
				return wsSubscribe(t, s, storeEventsSubscription, vars{"after": cursor})
			},
			"SSE": func(cursor string) eventStream {
				return sseOrErrors(t, s, storeEventsSubscription, vars{"after": cursor})
			},
		}
		// Pruning at start runs beside serving: until it has, the old cursor still works.
		if !eventually(streamWait, func() bool {
			st := subscribeAfter["WebSocket"](old[0].Cursor)
			defer st.close()
			_, err := st.next(streamWait)
			var errs gqlErrors
			return errors.As(err, &errs)
		}) {
			t.Fatalf("a cursor older than EVENT_RETENTION was never refused")
		}
		later := struct{ ID, cursor string }{ID: createStore(t, s, "After the pruning").ID}
		later.cursor = collect(t, wsSubscribe(t, s, storeEventsSubscription, vars{"after": old[2].Cursor}), 1)[0].Cursor
		for transport, subscribe := range subscribeAfter {
			t.Run(transport, func(t *testing.T) {
				for _, cursor := range []string{base.Cursor, old[0].Cursor} {
					wantCodeField(t, expectErrors(t, subscribe(cursor)), "CURSOR_EXPIRED", "after")
				}
				// The log's newest event is kept however old, so old[1], the newest pruned,
				// still resumes: nothing after it is gone.
				checkSameEvents(t, "after the newest pruned event", collect(t, subscribe(old[1].Cursor), 2),
					[]liveEvent{old[2], {Cursor: later.cursor, Kind: "CREATED", StoreID: later.ID}})
				checkSameEvents(t, "after the newest event", collect(t, subscribe(old[2].Cursor), 1),
					[]liveEvent{{Cursor: later.cursor, Kind: "CREATED", StoreID: later.ID}})
				for _, cursor := range []string{"not a cursor", base64.RawURLEncoding.EncodeToString([]byte("evt:x")), base64.RawURLEncoding.EncodeToString([]byte("Store:1"))} {
					wantCodeField(t, expectErrors(t, subscribe(cursor)), "BAD_USER_INPUT", "after")
				}
			})
		}
	})
}

// sseOrErrors subscribes over SSE; a request refused before it became a stream (with a
// GraphQL response) is a stream that answers with the response's errors.
func sseOrErrors(t *testing.T, s *server, query string, variables vars) eventStream {
	t.Helper()
	req, err := sseRequest(context.Background(), s, http.MethodPost, query, variables, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := openSSE(s, req)
	var refusal *httpRefusal
	if errors.As(err, &refusal) {
		if _, err := decodeEvent([]byte(refusal.body)); err != nil {
			return refusedStream{err}
		}
	}
	if err != nil {
		t.Fatalf("subscribe over SSE: %v", err)
	}
	t.Cleanup(st.close)
	return st
}

// refusedStream is a subscription the server refused with err.
type refusedStream struct{ err error }

func (r refusedStream) next(time.Duration) (liveEvent, error) { return liveEvent{}, r.err }
func (r refusedStream) close()                                {}
