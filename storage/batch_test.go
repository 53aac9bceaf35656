package storage_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/storegraph/storegraph/storage"
)

func TestListItemsByStoreMatchesOneListingPerStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		tiesID, _ := seedTies(t, db)
		few := mustStore(t, db, "Few")
		for _, price := range []float64{3, 1, 2} {
			mustItem(t, db, few.ID, "few", price)
		}
		empty := mustStore(t, db, "Empty")
		storeIDs := []int64{tiesID, few.ID, empty.ID}

		for _, field := range []string{"ID", "NAME", "PRICE", "CREATED_AT"} {
			for _, dir := range []storage.SortDirection{storage.Ascending, storage.Descending} {
				order := storage.Order{Field: field, Direction: dir}
				// A cursor belongs to one order; take this order's from the ties store.
				byOrder, err := db.ListItems(ctx, storage.ItemFilter{StoreID: &tiesID}, order, storage.PageArgs{First: ptr(25)})
				if err != nil {
					t.Fatal(err)
				}
				cursor := byOrder.Cursor(10)
				for _, tc := range []struct {
					name   string
					args   storage.PageArgs
					filter storage.ItemFilter
				}{
					{"first 7", storage.PageArgs{First: ptr(7)}, storage.ItemFilter{}},
					{"last 7", storage.PageArgs{Last: ptr(7)}, storage.ItemFilter{}},
					{"first 7 after", storage.PageArgs{First: ptr(7), After: &cursor}, storage.ItemFilter{}},
					{"last 3 before", storage.PageArgs{Last: ptr(3), Before: &cursor}, storage.ItemFilter{}},
					{"filtered", storage.PageArgs{First: ptr(5)}, storage.ItemFilter{MaxPrice: ptr(17.99), NameContains: ptr("AN")}},
					{"filtered after", storage.PageArgs{First: ptr(2), After: &cursor}, storage.ItemFilter{MinPrice: ptr(1.0), NameContains: ptr("e")}},
					{"filtered before", storage.PageArgs{Last: ptr(2), Before: &cursor}, storage.ItemFilter{MaxPrice: ptr(2.0), NameContains: ptr("a")}},
				} {
					t.Run(fmt.Sprintf("%s %s %s", field, dir, tc.name), func(t *testing.T) {
						got, err := db.ListItemsByStore(ctx, storeIDs, tc.filter, order, tc.args)
						if err != nil {
							t.Fatal(err)
						}
						for _, id := range storeIDs {
							f := tc.filter
							f.StoreID = &id
							want, err := db.ListItems(ctx, f, order, tc.args)
							if err != nil {
								t.Fatal(err)
							}
							if got, want := pageOf(got[id], itemID), pageOf(want, itemID); got != want {
								t.Fatalf("store %d:\nbatch  %s\nsingle %s", id, got, want)
							}
						}
					})
				}
			}
		}
	})
}

func TestCountItemsByStoreGivesZeroForStoresWithoutItems(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		tiesID, _ := seedTies(t, db)
		empty := mustStore(t, db, "Empty")
		got, err := db.CountItemsByStore(ctx, []int64{tiesID, empty.ID, 424242}, storage.ItemFilter{MinPrice: ptr(17.99)})
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64]int{tiesID: 12, empty.ID: 0, 424242: 0}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("counts = %v, want %v", got, want)
		}
	})
}

func TestListStoresByOwnerMatchesOneListingPerOwner(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		many := storage.Actor{UserID: mustUser(t, db, "many@example.com").ID}
		few := storage.Actor{UserID: mustUser(t, db, "few@example.com").ID}
		none := mustUser(t, db, "none@example.com").ID
		// Interleaved, and beside stores of nobody, so that each owner's stores are not one run of ids.
		for i := range 12 {
			mustOwnedStore(t, db, many, fmt.Sprintf("Many %c", 'L'-i))
			if i%4 == 0 {
				mustOwnedStore(t, db, few, fmt.Sprintf("Few %d", i))
				mustStore(t, db, fmt.Sprintf("Nobody's %d", i))
			}
		}
		ownerIDs := []int64{many.UserID, few.UserID, none}
		for _, field := range []string{"ID", "NAME", "CREATED_AT"} {
			for _, dir := range []storage.SortDirection{storage.Ascending, storage.Descending} {
				order := storage.Order{Field: field, Direction: dir}
				byOrder, err := db.ListStores(ctx, storage.StoreFilter{OwnerID: &many.UserID}, order, storage.PageArgs{First: ptr(12)})
				if err != nil {
					t.Fatal(err)
				}
				cursor := byOrder.Cursor(5)
				for _, tc := range []struct {
					name   string
					args   storage.PageArgs
					filter storage.StoreFilter
				}{
					{"first 4", storage.PageArgs{First: ptr(4)}, storage.StoreFilter{}},
					{"last 4", storage.PageArgs{Last: ptr(4)}, storage.StoreFilter{}},
					{"first 4 after", storage.PageArgs{First: ptr(4), After: &cursor}, storage.StoreFilter{}},
					{"last 2 before", storage.PageArgs{Last: ptr(2), Before: &cursor}, storage.StoreFilter{}},
					{"filtered", storage.PageArgs{First: ptr(3)}, storage.StoreFilter{NameContains: ptr("y")}},
				} {
					t.Run(fmt.Sprintf("%s %s %s", field, dir, tc.name), func(t *testing.T) {
						got, err := db.ListStoresByOwner(ctx, ownerIDs, tc.filter, order, tc.args)
						if err != nil {
							t.Fatal(err)
						}
						for _, id := range ownerIDs {
							f := tc.filter
							f.OwnerID = &id
							want, err := db.ListStores(ctx, f, order, tc.args)
							if err != nil {
								t.Fatal(err)
							}
							if got, want := pageOf(got[id], storeID), pageOf(want, storeID); got != want {
								t.Fatalf("owner %d:\nbatch  %s\nsingle %s", id, got, want)
							}
						}
					})
				}
			}
		}
		counts, err := db.CountStoresByOwner(ctx, append(ownerIDs, 424242), storage.StoreFilter{NameContains: ptr("a")})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int64]int{many.UserID: 12, few.UserID: 0, none: 0, 424242: 0}; !reflect.DeepEqual(counts, want) {
			t.Fatalf("counts = %v, want %v", counts, want)
		}
	})
}

func TestBatchPagesReadAParentNamedTwiceOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		owner := storage.Actor{UserID: mustUser(t, db, "owner@example.com").ID}
		store := mustOwnedStore(t, db, owner, "Owned")
		mustOwnedStore(t, db, owner, "Owned too")
		for _, name := range []string{"a", "b", "c"} {
			mustItem(t, db, store.ID, name, 1)
		}
		args := storage.PageArgs{First: ptr(2)}
		items, err := db.ListItemsByStore(ctx, []int64{store.ID, store.ID}, storage.ItemFilter{}, storage.Order{}, args)
		if err != nil {
			t.Fatal(err)
		}
		wantItems, err := db.ListItems(ctx, storage.ItemFilter{StoreID: &store.ID}, storage.Order{}, args)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := pageOf(items[store.ID], itemID), pageOf(wantItems, itemID); got != want {
			t.Fatalf("items:\nbatch  %s\nsingle %s", got, want)
		}
		stores, err := db.ListStoresByOwner(ctx, []int64{owner.UserID, owner.UserID}, storage.StoreFilter{}, storage.Order{}, storage.PageArgs{First: ptr(1)})
		if err != nil {
			t.Fatal(err)
		}
		wantStores, err := db.ListStores(ctx, storage.StoreFilter{OwnerID: &owner.UserID}, storage.Order{}, storage.PageArgs{First: ptr(1)})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := pageOf(stores[owner.UserID], storeID), pageOf(wantStores, storeID); got != want {
			t.Fatalf("stores:\nbatch  %s\nsingle %s", got, want)
		}
	})
}

func TestGetStoresLeavesOutMissingIDs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		a := mustStore(t, db, "A")
		b := mustStore(t, db, "B")
		got, err := db.GetStores(context.Background(), []int64{b.ID, 99999, a.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[a.ID].Name != "A" || got[b.ID].Name != "B" {
			t.Fatalf("got %v", got)
		}
	})
}

// pageOf is what a page is compared by: its rows' ids, their cursors and its flags.
func pageOf[T any](p storage.Page[T], id func(T) int64) string {
	ids, cursors := make([]int64, len(p.Rows)), make([]string, len(p.Rows))
	for i, r := range p.Rows {
		ids[i], cursors[i] = id(r), p.Cursor(i)
	}
	return fmt.Sprintf("ids=%v cursors=%v next=%v prev=%v", ids, cursors, p.HasNextPage, p.HasPreviousPage)
}

func itemID(it *storage.Item) int64  { return it.ID }
func storeID(s *storage.Store) int64 { return s.ID }
