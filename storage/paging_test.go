package storage_test

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/storage"
)

// seedTies creates 25 items whose names and prices repeat, so that every order has ties.
func seedTies(t *testing.T, db *storage.DB) (storeID int64, items []*storage.Item) {
	t.Helper()
	store := mustStore(t, db, "Ties")
	names := []string{"apple", "Apple", "BANANA", "banana", "cherry"}
	prices := []float64{0.5, 17.99, 2, 17.99, 0.5, 100}
	for i := range 25 {
		items = append(items, mustItem(t, db, store.ID, names[i%len(names)], prices[i%len(prices)]))
	}
	return store.ID, items
}

// expectedOrder sorts items the way the database must: by key, then id, both in direction.
func expectedOrder(items []*storage.Item, field string, desc bool) []int64 {
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b *storage.Item) int {
		c := 0
		switch field {
		case "NAME":
			c = strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		case "PRICE":
			c = cmp.Compare(a.PriceCents, b.PriceCents)
		case "CREATED_AT":
			c = a.CreatedAt.Compare(b.CreatedAt)
		}
		if c == 0 {
			c = cmp.Compare(a.ID, b.ID)
		}
		if desc {
			return -c
		}
		return c
	})
	ids := make([]int64, len(sorted))
	for i, it := range sorted {
		ids[i] = it.ID
	}
	return ids
}

func TestPaginationVisitsEveryRowOnceInOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		storeID, items := seedTies(t, db)
		filter := storage.ItemFilter{StoreID: &storeID}

		for _, field := range []string{"ID", "NAME", "PRICE", "CREATED_AT"} {
			for _, dir := range []storage.SortDirection{storage.Ascending, storage.Descending} {
				order := storage.Order{Field: field, Direction: dir}
				want := expectedOrder(items, field, dir == storage.Descending)

				t.Run(fmt.Sprintf("%s %s forwards", field, dir), func(t *testing.T) {
					var got []int64
					var after *string
					for pageNo := 0; ; pageNo++ {
						page, err := db.ListItems(ctx, filter, order, storage.PageArgs{First: ptr(7), After: after})
						if err != nil {
							t.Fatal(err)
						}
						got = append(got, ids(page.Rows)...)
						if page.HasPreviousPage != (pageNo > 0) {
							t.Fatalf("page %d: hasPreviousPage = %v", pageNo, page.HasPreviousPage)
						}
						if page.HasNextPage != (len(got) < len(want)) {
							t.Fatalf("page %d: hasNextPage = %v with %d of %d seen", pageNo, page.HasNextPage, len(got), len(want))
						}
						if !page.HasNextPage {
							break
						}
						after = ptr(page.Cursor(len(page.Rows) - 1))
					}
					if !slices.Equal(got, want) {
						t.Fatalf("visited %v\nwant    %v", got, want)
					}
				})

				t.Run(fmt.Sprintf("%s %s backwards", field, dir), func(t *testing.T) {
					var got []int64
					var before *string
					for pageNo := 0; ; pageNo++ {
						page, err := db.ListItems(ctx, filter, order, storage.PageArgs{Last: ptr(7), Before: before})
						if err != nil {
							t.Fatal(err)
						}
						got = append(ids(page.Rows), got...)
						if page.HasNextPage != (pageNo > 0) {
							t.Fatalf("page %d: hasNextPage = %v", pageNo, page.HasNextPage)
						}
						if page.HasPreviousPage != (len(got) < len(want)) {
							t.Fatalf("page %d: hasPreviousPage = %v with %d of %d seen", pageNo, page.HasPreviousPage, len(got), len(want))
						}
						if !page.HasPreviousPage {
							break
						}
						before = ptr(page.Cursor(0))
					}
					if !slices.Equal(got, want) {
						t.Fatalf("visited %v\nwant    %v", got, want)
					}
				})
			}
		}
	})
}

func TestPaginationBetweenTwoCursors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		storeID, items := seedTies(t, db)
		filter := storage.ItemFilter{StoreID: &storeID}
		order := storage.Order{Field: "PRICE", Direction: storage.Descending}
		want := expectedOrder(items, "PRICE", true)

		all, err := db.ListItems(ctx, filter, order, storage.PageArgs{First: ptr(25)})
		if err != nil {
			t.Fatal(err)
		}
		page, err := db.ListItems(ctx, filter, order, storage.PageArgs{After: ptr(all.Cursor(4)), Before: ptr(all.Cursor(12))})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page.Rows); !slices.Equal(got, want[5:12]) {
			t.Fatalf("between cursors 4 and 12: %v, want %v", got, want[5:12])
		}
	})
}

func TestCursorsStayValidWhenRowsAreAdded(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		storeID, _ := seedTies(t, db)
		filter := storage.ItemFilter{StoreID: &storeID}
		order := storage.Order{Field: "PRICE"}

		first, err := db.ListItems(ctx, filter, order, storage.PageArgs{First: ptr(10)})
		if err != nil {
			t.Fatal(err)
		}
		// Cheaper items land before the cursor; an OFFSET pager would now repeat rows.
		for range 5 {
			mustItem(t, db, storeID, "cheap", 0.01)
		}
		rest, err := db.ListItems(ctx, filter, order, storage.PageArgs{First: ptr(100), After: ptr(first.Cursor(9))})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		for _, id := range append(ids(first.Rows), ids(rest.Rows)...) {
			if seen[id] {
				t.Fatalf("item %d seen twice", id)
			}
			seen[id] = true
		}
		if len(rest.Rows) != 15 {
			t.Fatalf("%d rows after the cursor, want the 15 that were there", len(rest.Rows))
		}
	})
}

func TestPageDefaultsAndSizes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		storeID, _ := seedTies(t, db)
		filter := storage.ItemFilter{StoreID: &storeID}
		tests := []struct {
			name     string
			args     storage.PageArgs
			wantRows int
			wantNext bool
			wantPrev bool
		}{
			{"default page is 20", storage.PageArgs{}, 20, true, false},
			{"first 0 is empty but knows more exist", storage.PageArgs{First: ptr(0)}, 0, true, false},
			{"first 100 returns all 25", storage.PageArgs{First: ptr(100)}, 25, false, false},
			{"last 5 is the tail", storage.PageArgs{Last: ptr(5)}, 5, false, true},
			{"a smaller maximum admits first up to it", storage.PageArgs{First: ptr(10), Max: 10}, 10, true, false},
			{"a maximum below 20 is also the default page", storage.PageArgs{Max: 7}, 7, true, false},
			{"a larger maximum admits first above 100", storage.PageArgs{First: ptr(150), Max: 200}, 25, false, false},
			{"an empty after is no cursor", storage.PageArgs{First: ptr(5), After: ptr("")}, 5, true, false},
			{"an empty before is no cursor", storage.PageArgs{Last: ptr(5), Before: ptr("")}, 5, false, true},
			{"empty cursors on both sides", storage.PageArgs{After: ptr(""), Before: ptr("")}, 20, true, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				page, err := db.ListItems(ctx, filter, storage.Order{}, tt.args)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Rows) != tt.wantRows || page.HasNextPage != tt.wantNext || page.HasPreviousPage != tt.wantPrev {
					t.Fatalf("rows=%d next=%v prev=%v, want %d %v %v", len(page.Rows), page.HasNextPage, page.HasPreviousPage, tt.wantRows, tt.wantNext, tt.wantPrev)
				}
			})
		}
	})
}

func TestPageArgumentsAreValidated(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		storeID, _ := seedTies(t, db)
		byName, err := db.ListItems(ctx, storage.ItemFilter{}, storage.Order{Field: "NAME"}, storage.PageArgs{First: ptr(1)})
		if err != nil {
			t.Fatal(err)
		}
		forged := base64.RawURLEncoding.EncodeToString([]byte(`{"f":"PRICE","v":"DROP TABLE","i":1}`))
		// Postgres cannot even compare text holding U+0000: refused before it gets there.
		withNUL := base64.RawURLEncoding.EncodeToString([]byte(`{"f":"NAME","v":"a\u0000","i":1}`))
		tests := []struct {
			name       string
			order      storage.Order
			args       storage.PageArgs
			wantFields []string
		}{
			{"first above 100", storage.Order{}, storage.PageArgs{First: ptr(101)}, []string{"first"}},
			{"negative first", storage.Order{}, storage.PageArgs{First: ptr(-1)}, []string{"first"}},
			{"last above 100", storage.Order{}, storage.PageArgs{Last: ptr(1000)}, []string{"last"}},
			{"first above a smaller maximum", storage.Order{}, storage.PageArgs{First: ptr(11), Max: 10}, []string{"first"}},
			{"last above a smaller maximum", storage.Order{}, storage.PageArgs{Last: ptr(11), Max: 10}, []string{"last"}},
			{"first and last together", storage.Order{}, storage.PageArgs{First: ptr(1), Last: ptr(1)}, []string{"last"}},
			{"garbage cursor", storage.Order{}, storage.PageArgs{After: ptr("garbage!")}, []string{"after"}},
			{"base64 of other JSON", storage.Order{}, storage.PageArgs{Before: ptr(base64.RawURLEncoding.EncodeToString([]byte(`{"x":1}`)))}, []string{"before"}},
			{"cursor of another order", storage.Order{Field: "PRICE"}, storage.PageArgs{After: ptr(byName.Cursor(0))}, []string{"after"}},
			{"forged value of the wrong type", storage.Order{Field: "PRICE"}, storage.PageArgs{After: &forged}, []string{"after"}},
			{"forged value with a control character", storage.Order{Field: "NAME"}, storage.PageArgs{Before: &withNUL}, []string{"before"}},
			{"unknown order field", storage.Order{Field: "COLOUR"}, storage.PageArgs{}, []string{"orderBy"}},
			{"every problem at once", storage.Order{}, storage.PageArgs{First: ptr(-5), Last: ptr(500), After: ptr("x")}, []string{"first", "last", "last", "after"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := db.ListItems(ctx, storage.ItemFilter{StoreID: &storeID}, tt.order, tt.args)
				if got := fieldsOf(t, err); !slices.Equal(got, tt.wantFields) {
					t.Fatalf("invalid fields = %v, want %v", got, tt.wantFields)
				}
			})
		}
	})
}

func TestItemFilters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		a := mustStore(t, db, "A")
		b := mustStore(t, db, "B")
		mustItem(t, db, a.ID, "Green Apple", 1)
		mustItem(t, db, a.ID, "100% Juice", 2.5)
		mustItem(t, db, a.ID, "snake_case", 3)
		mustItem(t, db, b.ID, "APPLE PIE", 4.99)
		mustItem(t, db, b.ID, "Pear", 5)

		tests := []struct {
			name   string
			filter storage.ItemFilter
			want   []string
		}{
			{"no filter", storage.ItemFilter{}, []string{"Green Apple", "100% Juice", "snake_case", "APPLE PIE", "Pear"}},
			{"by store", storage.ItemFilter{StoreID: &b.ID}, []string{"APPLE PIE", "Pear"}},
			{"name ignoring case", storage.ItemFilter{NameContains: ptr("apple")}, []string{"Green Apple", "APPLE PIE"}},
			{"percent is literal", storage.ItemFilter{NameContains: ptr("0%")}, []string{"100% Juice"}},
			{"underscore is literal", storage.ItemFilter{NameContains: ptr("e_c")}, []string{"snake_case"}},
			{"lone percent", storage.ItemFilter{NameContains: ptr("%")}, []string{"100% Juice"}},
			{"min price inclusive", storage.ItemFilter{MinPrice: ptr(4.99)}, []string{"APPLE PIE", "Pear"}},
			{"max price inclusive", storage.ItemFilter{MaxPrice: ptr(2.5)}, []string{"Green Apple", "100% Juice"}},
			{"price range", storage.ItemFilter{MinPrice: ptr(2.0), MaxPrice: ptr(4.99)}, []string{"100% Juice", "snake_case", "APPLE PIE"}},
			{"fractional bound rounds inwards", storage.ItemFilter{MinPrice: ptr(2.499), MaxPrice: ptr(2.501)}, []string{"100% Juice"}},
			{"all conditions", storage.ItemFilter{StoreID: &a.ID, NameContains: ptr("APP"), MaxPrice: ptr(1.0)}, []string{"Green Apple"}},
			{"nothing matches", storage.ItemFilter{MinPrice: ptr(5.01)}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				page, err := db.ListItems(ctx, tt.filter, storage.Order{}, storage.PageArgs{})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, it := range page.Rows {
					got = append(got, it.Name)
				}
				if !slices.Equal(got, tt.want) {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
				if n, err := db.CountItems(ctx, tt.filter); err != nil || n != len(tt.want) {
					t.Fatalf("count = %d (%v), want %d", n, err, len(tt.want))
				}
			})
		}
	})
}

func TestStoreListing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for _, name := range []string{"delta", "Alpha", "charlie", "Bravo", "alpha two"} {
			mustStore(t, db, name)
		}
		tests := []struct {
			name   string
			filter storage.StoreFilter
			order  storage.Order
			want   []string
		}{
			{"default is creation order", storage.StoreFilter{}, storage.Order{}, []string{"delta", "Alpha", "charlie", "Bravo", "alpha two"}},
			{"by name ignores case", storage.StoreFilter{}, storage.Order{Field: "NAME"}, []string{"Alpha", "alpha two", "Bravo", "charlie", "delta"}},
			{"by name descending", storage.StoreFilter{}, storage.Order{Field: "NAME", Direction: storage.Descending}, []string{"delta", "charlie", "Bravo", "alpha two", "Alpha"}},
			{"newest first", storage.StoreFilter{}, storage.Order{Field: "CREATED_AT", Direction: storage.Descending}, []string{"alpha two", "Bravo", "charlie", "Alpha", "delta"}},
			{"name contains", storage.StoreFilter{NameContains: ptr("ALPHA")}, storage.Order{}, []string{"Alpha", "alpha two"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				page, err := db.ListStores(ctx, tt.filter, tt.order, storage.PageArgs{})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, s := range page.Rows {
					got = append(got, s.Name)
				}
				if !slices.Equal(got, tt.want) {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
				if n, err := db.CountStores(ctx, tt.filter); err != nil || n != len(tt.want) {
					t.Fatalf("count = %d (%v), want %d", n, err, len(tt.want))
				}
			})
		}
	})
}

func TestNameSearchRefusesControlCharacters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for _, needle := range []string{"a\x00", "line\nbreak", "\x7f"} {
			_, storesErr := db.ListStores(ctx, storage.StoreFilter{NameContains: &needle}, storage.Order{}, storage.PageArgs{})
			_, countErr := db.CountItems(ctx, storage.ItemFilter{NameContains: &needle})
			for _, err := range []error{storesErr, countErr} {
				if got := fieldsOf(t, err); !slices.Equal(got, []string{"nameContains"}) || err.Error() != "nameContains: nameContains must not contain control characters." {
					t.Fatalf("search %q: error = %v, want nameContains refused", needle, err)
				}
			}
		}
	})
}

func ids(items []*storage.Item) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func TestSkippingTheFarSideFlagLeavesOutItsStatement(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		storeID, _ := seedTies(t, db)
		filter := storage.ItemFilter{StoreID: &storeID}
		start, err := db.ListItems(context.Background(), filter, storage.Order{}, storage.PageArgs{First: ptr(10)})
		if err != nil {
			t.Fatal(err)
		}
		mid := start.Cursor(4) // five rows before it, twenty after

		type result struct {
			rows       []int64
			next, prev bool
			statements int64
		}
		run := func(args storage.PageArgs, batched bool) result {
			ctx, counter := storage.WithStatementCounter(context.Background())
			var page storage.Page[*storage.Item]
			if batched {
				pages, err := db.ListItemsByStore(ctx, []int64{storeID}, storage.ItemFilter{}, storage.Order{}, args)
				if err != nil {
					t.Fatal(err)
				}
				page = pages[storeID]
			} else if page, err = db.ListItems(ctx, filter, storage.Order{}, args); err != nil {
				t.Fatal(err)
			}
			return result{ids(page.Rows), page.HasNextPage, page.HasPreviousPage, counter.Count()}
		}
		forwards := storage.PageArgs{First: ptr(3), After: &mid}
		backwards := storage.PageArgs{Last: ptr(3), Before: &mid}
		skip := func(args storage.PageArgs, next, prev bool) storage.PageArgs {
			args.SkipHasNextPage, args.SkipHasPreviousPage = next, prev
			return args
		}
		tests := []struct {
			name               string
			args               storage.PageArgs
			wantNext, wantPrev bool
			wantStatements     int64
		}{
			{"forwards, both flags read", forwards, true, true, 2},
			{"forwards, hasPreviousPage skipped", skip(forwards, false, true), true, false, 1},
			{"forwards, hasNextPage skipped: it is free, so nothing changes", skip(forwards, true, false), true, true, 2},
			{"backwards, both flags read", backwards, true, true, 2},
			{"backwards, hasNextPage skipped", skip(backwards, true, false), false, true, 1},
			{"backwards, both skipped", skip(backwards, true, true), false, true, 1},
		}
		for _, tt := range tests {
			for _, batched := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s, batched %v", tt.name, batched), func(t *testing.T) {
					got := run(tt.args, batched)
					wantRows := []int64{start.Rows[5].ID, start.Rows[6].ID, start.Rows[7].ID}
					if tt.args.Before != nil {
						wantRows = []int64{start.Rows[1].ID, start.Rows[2].ID, start.Rows[3].ID}
					}
					want := result{wantRows, tt.wantNext, tt.wantPrev, tt.wantStatements}
					if !slices.Equal(got.rows, want.rows) || got.next != want.next || got.prev != want.prev || got.statements != want.statements {
						t.Fatalf("got %+v, want %+v", got, want)
					}
				})
			}
		}
	})
}
