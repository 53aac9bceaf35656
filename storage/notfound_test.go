package storage_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/storegraph/storegraph/storage"
)

func TestNotFoundErrorsNameTheInputThatNamedTheMissingRow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		home := mustStore(t, db, "Home")
		it := mustItem(t, db, home.ID, "Lamp", 2)
		store := storage.NotFoundError{Resource: "Store", Field: "id"}
		item := storage.NotFoundError{Resource: "Item", Field: "id"}
		itemsStore := storage.NotFoundError{Resource: "Store", Field: "storeId"}
		// A missing row is not found whoever asks: a signed-in user who owns nothing, or
		// nobody, is told so before any refusal.
		actors := []namedActor{
			{"admin", asAdmin},
			{"signed-in non-owner", storage.Actor{UserID: mustUser(t, db, "someone@example.com").ID}},
			{"nobody", storage.Actor{}},
		}
		// 0 is an id no row has (ids start at 1); the GraphQL layer sends it for ids beyond
		// int64, so it must be answered as any other unknown id.
		for _, missing := range []int64{999999, 0} {
			for _, actor := range actors {
				a := actor.actor
				tests := []struct {
					name string
					call func() error
					want storage.NotFoundError
				}{
					{"GetStore", func() error { _, err := db.GetStore(ctx, missing); return err }, store},
					{"UpdateStore", func() error { _, err := db.UpdateStore(ctx, a, missing, "Away"); return err }, store},
					{"DeleteStore", func() error { return db.DeleteStore(ctx, a, missing) }, store},
					{"GetItem", func() error { _, err := db.GetItem(ctx, missing); return err }, item},
					{"UpdateItem", func() error {
						_, err := db.UpdateItem(ctx, a, missing, storage.ItemPatch{Name: ptr("Desk")})
						return err
					}, item},
					{"UpdateItem of a missing item into a missing store", func() error {
						_, err := db.UpdateItem(ctx, a, missing, storage.ItemPatch{StoreID: &missing})
						return err
					}, item},
					{"UpdateItem into a missing store", func() error {
						_, err := db.UpdateItem(ctx, a, it.ID, storage.ItemPatch{StoreID: &missing})
						return err
					}, itemsStore},
					{"CreateItem in a missing store", func() error {
						_, err := db.CreateItem(ctx, a, storage.ItemInput{Name: "Orphan", Price: 1, StoreID: missing})
						return err
					}, itemsStore},
					{"DeleteItem", func() error { return db.DeleteItem(ctx, a, missing) }, item},
				}
				for _, tt := range tests {
					t.Run(fmt.Sprintf("%s %d by %s", tt.name, missing, actor.name), func(t *testing.T) {
						var got *storage.NotFoundError
						if err := tt.call(); !errors.As(err, &got) || *got != tt.want || !errors.Is(err, storage.ErrNotFound) {
							t.Fatalf("error = %#v, want %#v", err, &tt.want)
						}
					})
				}
			}
		}
		if got, err := db.GetItem(ctx, it.ID); err != nil || got.StoreID != home.ID || got.Name != "Lamp" {
			t.Fatalf("item after the failed writes = %+v (%v), want it unchanged", got, err)
		}
	})
}

func TestNotFoundMessagesAreSentences(t *testing.T) {
	for _, tt := range []struct {
		err  storage.NotFoundError
		want string
	}{
		{storage.NotFoundError{Resource: "Store", Field: "storeId"}, "Store not found."},
		{storage.NotFoundError{Resource: "Item"}, "Item not found."},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
}
