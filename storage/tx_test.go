package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/storegraph/storegraph/storage"
)

func TestConcurrentPatchesOfOneItemKeepEveryField(t *testing.T) {
	// One writer renames, the other reprices: had either written back a stale copy of the
	// field it did not patch, the last name or the last price would be lost.
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		const rounds = 40
		ctx := context.Background()
		it := mustItem(t, db, mustStore(t, db, "Shop").ID, "name 0", 1)

		var wg sync.WaitGroup
		errs := make(chan error, 2*rounds)
		wg.Go(func() {
			for i := 1; i <= rounds; i++ {
				_, err := db.UpdateItem(ctx, asAdmin, it.ID, storage.ItemPatch{Name: ptr(fmt.Sprintf("name %d", i))})
				errs <- err
			}
		})
		wg.Go(func() {
			for i := 1; i <= rounds; i++ {
				_, err := db.UpdateItem(ctx, asAdmin, it.ID, storage.ItemPatch{Price: ptr(float64(i))})
				errs <- err
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("update: %v", err)
			}
		}

		got, err := db.GetItem(ctx, it.ID)
		if err != nil || got.Name != fmt.Sprintf("name %d", rounds) || got.Price() != rounds {
			t.Fatalf("read back %+v (%v), want name %q and price %d", got, err, fmt.Sprintf("name %d", rounds), rounds)
		}
	})
}

func TestUpdateThatFailsWritesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		shop := mustStore(t, db, "Shop")
		mustStore(t, db, "Taken")
		it := mustItem(t, db, shop.ID, "Lamp", 2)

		// The rename is valid on its own; the move to a store that does not exist is not.
		_, err := db.UpdateItem(ctx, asAdmin, it.ID, storage.ItemPatch{Name: ptr("Desk Lamp"), StoreID: ptr(int64(999999))})
		if !errors.Is(err, storage.ErrNotFound) || err.Error() != "Store not found." {
			t.Fatalf("update item: error = %v, want Store not found", err)
		}
		if got, err := db.GetItem(ctx, it.ID); err != nil || got.Name != "Lamp" || got.StoreID != shop.ID || !got.UpdatedAt.Equal(it.UpdatedAt) {
			t.Fatalf("item after failed update = %+v (%v), want it unchanged", got, err)
		}

		if _, err := db.UpdateStore(ctx, asAdmin, shop.ID, "taken"); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("rename: error = %v, want a conflict", err)
		}
		if got, err := db.GetStore(ctx, shop.ID); err != nil || got.Name != "Shop" || !got.UpdatedAt.Equal(shop.UpdatedAt) {
			t.Fatalf("store after failed rename = %+v (%v), want it unchanged", got, err)
		}
	})
}

func TestRenameOfADeletedStoreIsNotFound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s := mustStore(t, db, "Gone")
		if err := db.DeleteStore(ctx, asAdmin, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.UpdateStore(ctx, asAdmin, s.ID, "Back"); !errors.Is(err, storage.ErrNotFound) || err.Error() != "Store not found." {
			t.Fatalf("error = %v, want Store not found", err)
		}
		if n, err := db.CountStores(ctx, storage.StoreFilter{}); err != nil || n != 0 {
			t.Fatalf("stores = %d (%v), want 0", n, err)
		}
	})
}
