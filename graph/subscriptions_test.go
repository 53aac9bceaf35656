package graph

import (
	"context"
	"testing"

	"github.com/storegraph/storegraph/events"
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
			if got := itemEventsOf(tt.store)(tt.event); got != tt.want {
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
