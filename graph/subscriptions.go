package graph

import (
	"context"
	"errors"

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
// (or from now) that match accepts, as the value build makes of it, one at a time. The values
// are sent unbuffered, so a consumer that does not keep up makes its subscription lag behind
// the log, which it then reads itself, instead of holding events in memory.
func subscribe[T any](ctx context.Context, hub *events.Hub, after *string, match func(storage.Event) bool, build func(storage.Event, string) T) (<-chan T, error) {
	start, err := resumeFrom(ctx, after)
	if err != nil {
		return nil, err
	}
	in, err := hub.Subscribe(ctx, start, match)
	if errors.Is(err, events.ErrCursorExpired) {
		return nil, errCursorExpired
	}
	if err != nil {
		return nil, err
	}
	notify, buffered := deliveryNotice(ctx)
	// A transport told of each value takes it only once it is in the channel.
	out := make(chan T, buffered)
	go func() {
		defer func() {
			close(out)
			notify()
		}()
		for e := range in {
			cursor := events.EncodeCursor(e.Seq)
			v := build(e, cursor)
			if !noteCursor(ctx, cursor) {
				return
			}
			select {
			case out <- v:
				notify()
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

type deliveryNoticeKey struct{}

// WithDeliveryNotice returns a context whose subscriptions call notify once a value is ready
// for the transport, and once after their last: the transport then calls the response
// function exactly once per notice, and that call never blocks. notify must not block.
func WithDeliveryNotice(ctx context.Context, notify func()) context.Context {
	return context.WithValue(ctx, deliveryNoticeKey{}, notify)
}

// deliveryNotice is the transport's notice and the buffer its values need, or a notice that
// does nothing and no buffer.
func deliveryNotice(ctx context.Context) (func(), int) {
	if notify, _ := ctx.Value(deliveryNoticeKey{}).(func()); notify != nil {
		return notify, 1
	}
	return func() {}, 0
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

func isStoreEvent(e storage.Event) bool { return e.Entity == storeType }

// storeEvent is a store's event as the schema has it.
func storeEvent(e storage.Event, cursor string) *model.StoreEvent {
	return &model.StoreEvent{Cursor: cursor, Kind: model.ChangeKind(e.Kind), StoreID: model.GlobalID(storeType, e.RowID),
		Store: e.Store, At: e.At}
}

// itemEventsOf matches the events of the items of store (every store when nil): an item
// moved out of the store is one of them too.
func itemEventsOf(store *int64) func(storage.Event) bool {
	return func(e storage.Event) bool {
		return e.Entity == itemType && (store == nil || e.StoreID == *store || e.PrevStoreID != nil && *e.PrevStoreID == *store)
	}
}

// itemEvent is an item's event as the schema has it.
func itemEvent(e storage.Event, cursor string) *model.ItemEvent {
	return &model.ItemEvent{Cursor: cursor, Kind: model.ChangeKind(e.Kind), ItemID: model.GlobalID(itemType, e.RowID),
		StoreID: model.GlobalID(storeType, e.StoreID), Item: e.Item, At: e.At}
}

type (
	cursorSlotKey   struct{}
	resumeCursorKey struct{}
)

// WithEventCursors returns a context whose subscriptions report each event's cursor on the
// channel before they send the event, so that a streaming transport can label the response
// to it (SSE's id:). The transport must receive the cursor after each response.
func WithEventCursors(ctx context.Context) (context.Context, <-chan string) {
	slot := make(chan string, 1)
	return context.WithValue(ctx, cursorSlotKey{}, slot), slot
}

// noteCursor reports cursor to the transport that asked for cursors; false when ctx ended
// first.
func noteCursor(ctx context.Context, cursor string) bool {
	slot, _ := ctx.Value(cursorSlotKey{}).(chan string)
	if slot == nil {
		return true
	}
	select {
	case slot <- cursor:
		return true
	case <-ctx.Done():
		return false
	}
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
