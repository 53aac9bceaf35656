package graph

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/storegraph/storegraph/events"
	"github.com/storegraph/storegraph/graph/model"
	"github.com/storegraph/storegraph/storage"
)

var (
	errCursorExpired = &codedError{code: CodeCursorExpired, field: "after",
		message: "The cursor is older than the events the server keeps (EVENT_RETENTION): refetch, then subscribe without after."}
	errBadEventCursor = storage.Invalid("after", "Invalid cursor.")
)

// subscribe starts a subscription to the change log: every event after the client's cursor
// (or from now) that match accepts, as the value build makes of it. The hub puts the values
// on the channel itself, with no goroutine of the subscription's own, calling the context's
// delivery notice after each; a consumer that does not keep up makes the subscription lag
// behind the log, which it then reads itself, instead of holding events in memory.
func subscribe[T any](ctx context.Context, hub *events.Hub, after *string, match func(*storage.Event) bool, build func(*storage.Event) T) (<-chan T, error) {
	start, err := resumeFrom(ctx, after)
	if err != nil {
		return nil, err
	}
	convert := func(e *storage.Event) (T, bool) {
		if !match(e) {
			var none T
			return none, false
		}
		return build(e), true
	}
	notify := deliveryNotice(ctx)
	if q := cursorQueue(ctx); q != nil {
		// The value converted last is the one the hub puts on the channel next, unless the
		// channel is full (the subscription then lags, and converts it again when it sends
		// it from the log); the notice after each value is put on the channel queues its
		// cursor, before the transport hears of it.
		labelled := convert
		convert = func(e *storage.Event) (T, bool) {
			v, ok := labelled(e)
			if ok {
				q.converted(e.Seq)
			}
			return v, ok
		}
		notice := notify
		notify = func() {
			q.sent()
			notice()
		}
	}
	return subscribeHub(ctx, hub, start, convert, notify)
}

func subscribeHub[T any](ctx context.Context, hub *events.Hub, after *int64, convert func(*storage.Event) (T, bool), notify func()) (<-chan T, error) {
	ch, err := events.Subscribe(ctx, hub, after, convert, notify)
	if errors.Is(err, events.ErrCursorExpired) {
		return nil, errCursorExpired
	}
	return ch, err
}

// builtOnce is build, made once per event for all its subscribers: the hub hands every live
// subscriber of an event the same *storage.Event, and converts it for each under its lock.
// The last event built is the key, by address and seq: the address tells it from another
// hub's event of the same seq, and cannot be another event's while the memo holds it, unless
// a log reads an event into the same place, which the seq tells apart.
func builtOnce[T any](build func(*storage.Event) T) func(*storage.Event) T {
	type built struct {
		e   *storage.Event
		seq int64
		v   T
	}
	var last atomic.Pointer[built]
	return func(e *storage.Event) T {
		if b := last.Load(); b != nil && b.e == e && b.seq == e.Seq {
			return b.v
		}
		v := build(e)
		last.Store(&built{e: e, seq: e.Seq, v: v})
		return v
	}
}

// resumeFrom is where a subscription starts: the stream's resume cursor (SSE's
// Last-Event-ID) over the after argument, nil (the present) without either.
func resumeFrom(ctx context.Context, after *string) (*int64, error) {
	if c := resumeCursor(ctx); c != "" {
		after = &c
	}
	if after == nil || *after == "" {
		return nil, nil
	}
	seq, err := events.DecodeCursor(*after)
	if err != nil {
		return nil, errBadEventCursor
	}
	return &seq, nil
}

func isStoreEvent(e *storage.Event) bool { return e.Entity == storeType }

// storeEvent is a store's event as the schema has it.
var storeEvent = builtOnce(func(e *storage.Event) *model.StoreEvent {
	return &model.StoreEvent{Cursor: events.EncodeCursor(e.Seq), Kind: model.ChangeKind(e.Kind),
		StoreID: model.GlobalID(storeType, e.RowID), Store: e.Store, At: e.At}
})

// itemEventsOf matches the events of the items of store (every store when nil): an item
// moved out of the store is one of them too.
func itemEventsOf(store *int64) func(*storage.Event) bool {
	return func(e *storage.Event) bool {
		return e.Entity == itemType && (store == nil || e.StoreID == *store || e.PrevStoreID != nil && *e.PrevStoreID == *store)
	}
}

// itemEvent is an item's event as the schema has it.
var itemEvent = builtOnce(func(e *storage.Event) *model.ItemEvent {
	return &model.ItemEvent{Cursor: events.EncodeCursor(e.Seq), Kind: model.ChangeKind(e.Kind),
		ItemID: model.GlobalID(itemType, e.RowID), StoreID: model.GlobalID(storeType, e.StoreID), Item: e.Item, At: e.At}
})

type (
	cursorsKey        struct{}
	resumeCursorKey   struct{}
	deliveryNoticeKey struct{}
)

// WithDeliveryNotice returns a context whose subscriptions call notify once after each value
// they make ready on their channel and once after they close it, so that the transport can
// receive without waiting: it then calls the response function exactly once per notice, and
// no call blocks. notify must return at once (it may run under the event hub's lock) and
// must not subscribe.
func WithDeliveryNotice(ctx context.Context, notify func()) context.Context {
	return context.WithValue(ctx, deliveryNoticeKey{}, notify)
}

// deliveryNotice is the context's delivery notice, or one that does nothing.
func deliveryNotice(ctx context.Context) func() {
	if notify, _ := ctx.Value(deliveryNoticeKey{}).(func()); notify != nil {
		return notify
	}
	return func() {}
}

// WithEventCursors returns a context whose subscriptions keep the cursor of each event they
// put on their channel, so that a streaming transport can label the response to it (SSE's
// id:). The transport calls cursor after each response it makes: it is that response's
// event's cursor, "" for a response to no event. It must not call it concurrently.
func WithEventCursors(ctx context.Context) (_ context.Context, cursor func() string) {
	q := &cursors{}
	return context.WithValue(ctx, cursorsKey{}, q), q.next
}

// cursors are the seqs of a subscription's events on its channel, in the channel's order:
// no more than the channel holds, and one more converted but not yet sent.
type cursors struct {
	mu   sync.Mutex
	last int64 // converted last: the seq of the value the hub is putting on the channel
	on   []int64
}

func (q *cursors) converted(seq int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.last = seq
}

// sent queues the cursor of the value just put on the channel; nothing for the notice of
// the channel's close, which follows no conversion.
func (q *cursors) sent() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.last != 0 {
		q.on = append(q.on, q.last)
		q.last = 0
	}
}

// next is the cursor of the value received last: each response's value is the oldest on
// the channel.
func (q *cursors) next() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.on) == 0 {
		return ""
	}
	seq := q.on[0]
	q.on = q.on[1:]
	if len(q.on) == 0 {
		q.on = nil // the backing array goes with the backlog
	}
	return events.EncodeCursor(seq)
}

// cursorQueue is the cursors of the transport that asked for them; nil when none did.
func cursorQueue(ctx context.Context) *cursors {
	q, _ := ctx.Value(cursorsKey{}).(*cursors)
	return q
}

// WithResumeCursor returns a context whose subscriptions start after cursor, whatever their
// after argument says: SSE's Last-Event-ID, sent by a client reconnecting.
func WithResumeCursor(ctx context.Context, cursor string) context.Context {
	return context.WithValue(ctx, resumeCursorKey{}, cursor)
}

func resumeCursor(ctx context.Context) string {
	c, _ := ctx.Value(resumeCursorKey{}).(string)
	return c
}
