package graph

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/storegraph/storegraph/events"
	"github.com/storegraph/storegraph/graph/model"
	"github.com/storegraph/storegraph/storage"
)

func TestItemEventsOfAStoreIncludeItemsMovedIntoAndOutOfIt(t *testing.T) {
	a, b := int64(1), int64(2)
	for _, tt := range []struct {
		name  string
		event storage.Event
		store *int64
		want  bool
	}{
		{"an item of the store", storage.Event{Entity: itemType, StoreID: a}, &a, true},
		{"an item of another store", storage.Event{Entity: itemType, StoreID: b}, &a, false},
		{"an item moved out of the store", storage.Event{Entity: itemType, StoreID: b, PrevStoreID: &a}, &a, true},
		{"an item moved into the store", storage.Event{Entity: itemType, StoreID: a, PrevStoreID: &b}, &a, true},
		{"any item, without a store", storage.Event{Entity: itemType, StoreID: b}, nil, true},
		{"a store's event", storage.Event{Entity: storeType, RowID: a, StoreID: a}, &a, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := itemEventsOf(tt.store)(&tt.event); got != tt.want {
				t.Fatalf("delivered = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSubscriptionsResumeFromLastEventIDOverAfter(t *testing.T) {
	three, five := events.EncodeCursor(3), events.EncodeCursor(5)
	for _, tt := range []struct {
		name, resume string
		after        *string
		want         *int64
		wantErr      error
	}{
		{"neither: the present", "", nil, nil, nil},
		{"an empty after: the present", "", ptrTo(""), nil, nil},
		{"after", "", &three, ptrTo(int64(3)), nil},
		{"Last-Event-ID over after", five, &three, ptrTo(int64(5)), nil},
		{"a malformed cursor", "", ptrTo("not a cursor"), nil, errBadEventCursor},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.resume != "" {
				ctx = WithResumeCursor(ctx, tt.resume)
			}
			got, err := resumeFrom(ctx, tt.after)
			if err != tt.wantErr || (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Fatalf("resumeFrom = %v, %v; want %v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestAnEventsValueIsBuiltOnceForAllItsSubscribers(t *testing.T) {
	builds := 0
	build := builtOnce(func(e *storage.Event) *model.StoreEvent {
		builds++
		return &model.StoreEvent{Cursor: events.EncodeCursor(e.Seq)}
	})
	five, otherFive := &storage.Event{Seq: 5}, &storage.Event{Seq: 5}
	var last *model.StoreEvent
	for _, tt := range []struct {
		name       string
		event      *storage.Event
		seq        int64 // set on event first: the log read another event into its place
		wantBuilds int
		wantSame   bool // the value built last
	}{
		{"the first", five, 5, 1, false},
		{"the same event, for another subscriber", five, 5, 1, true},
		{"another hub's event of the same seq", otherFive, 5, 2, false},
		{"the first again", five, 5, 3, false},
		{"another event in the same place", five, 6, 4, false},
	} {
		tt.event.Seq = tt.seq
		v := build(tt.event)
		if builds != tt.wantBuilds || (v == last) != tt.wantSame || v.Cursor != events.EncodeCursor(tt.seq) {
			t.Fatalf("%s: %d builds, same value %v, cursor %q; want %d, %v, %q", tt.name, builds, v == last, v.Cursor,
				tt.wantBuilds, tt.wantSame, events.EncodeCursor(tt.seq))
		}
		last = v
	}
}

// A transport that asked for delivery notices receives once per notice and never waits: one
// notice per value, its cursor kept for the transport when it asked for cursors too, and one
// for the close.
func TestSubscriptionsNoticeEachValueAndTheClose(t *testing.T) {
	for _, withCursors := range []bool{false, true} {
		t.Run(fmt.Sprint("cursors ", withCursors), func(t *testing.T) {
			db := newTestDB(t, "sqlite::memory:")
			hub := events.NewHub(db, events.Options{Log: discardLog()})
			runCtx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- hub.Run(runCtx) }()
			t.Cleanup(func() { stop(); <-done })

			notices := make(chan struct{}, 8)
			ctx, cancel := context.WithCancel(t.Context())
			ctx = WithDeliveryNotice(ctx, func() { notices <- struct{}{} })
			var cursor func() string
			if withCursors {
				ctx, cursor = WithEventCursors(ctx)
			}
			ch, err := subscribe(ctx, hub, nil, isStoreEvent, storeEvent)
			if err != nil {
				t.Fatal(err)
			}
			names := []string{"first", "second", "third"}
			for _, name := range names {
				if _, err := db.CreateStore(ctx, storage.Actor{Admin: true}, name); err != nil {
					t.Fatal(err)
				}
			}
			awaitNotice := func() {
				t.Helper()
				select {
				case <-notices:
				case <-time.After(10 * time.Second):
					t.Fatal("no notice within 10s")
				}
			}
			for _, name := range names {
				awaitNotice()
				var v *model.StoreEvent
				select {
				case v = <-ch:
				default:
					t.Fatalf("a notice with nothing to receive, before %q", name)
				}
				if v == nil || v.Store == nil || v.Store.Name != name {
					t.Fatalf("got %+v, want the event of %q", v, name)
				}
				if withCursors {
					if c := cursor(); c != v.Cursor {
						t.Fatalf("cursor %q kept for the event of cursor %q", c, v.Cursor)
					}
				}
			}
			cancel()
			awaitNotice()
			select {
			case v, ok := <-ch:
				if ok {
					t.Fatalf("got %+v after the end, want the channel closed", v)
				}
			default:
				t.Fatal("the close noticed, but the channel is open")
			}
			if n := len(notices); n != 0 {
				t.Fatalf("%d more notices after the close", n)
			}
		})
	}
}

// A subscription whose channel fills lags and sends the rest from the log: each value still
// comes with its own cursor, none skipped or given twice.
func TestEventCursorsStayWithTheirValuesThroughALag(t *testing.T) {
	db := newTestDB(t, "sqlite::memory:")
	hub := events.NewHub(db, events.Options{QueueSize: 2, Log: discardLog()})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	notices := make(chan struct{}, 64)
	ctx := WithDeliveryNotice(t.Context(), func() { notices <- struct{}{} })
	ctx, cursor := WithEventCursors(ctx)
	ch, err := subscribe(ctx, hub, nil, isStoreEvent, storeEvent)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "b", "c", "d", "e", "f"}
	for _, name := range names {
		if _, err := db.CreateStore(ctx, storage.Actor{Admin: true}, name); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		select {
		case <-notices:
		case <-time.After(10 * time.Second):
			t.Fatalf("no notice for %q within 10s", name)
		}
		v := <-ch
		if v.Store == nil || v.Store.Name != name {
			t.Fatalf("got %+v, want the event of %q", v, name)
		}
		if c := cursor(); c != v.Cursor {
			t.Fatalf("%q: cursor %q kept, want %q", name, c, v.Cursor)
		}
	}
}
