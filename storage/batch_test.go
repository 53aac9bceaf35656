package storage_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
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
							if !samePage(got[id], want) {
								t.Fatalf("store %d:\nbatch  %s\nsingle %s", id, describe(got[id]), describe(want))
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

func samePage(a, b storage.Page[*storage.Item]) bool {
	return slices.Equal(ids(a.Rows), ids(b.Rows)) && slices.Equal(cursors(a), cursors(b)) &&
		a.HasNextPage == b.HasNextPage && a.HasPreviousPage == b.HasPreviousPage
}

func describe(p storage.Page[*storage.Item]) string {
	return fmt.Sprintf("ids=%v next=%v prev=%v", ids(p.Rows), p.HasNextPage, p.HasPreviousPage)
}

func cursors(p storage.Page[*storage.Item]) []string {
	out := make([]string, len(p.Rows))
	for i := range p.Rows {
		out[i] = p.Cursor(i)
	}
	return out
}
