package e2e

import (
	"slices"
	"strings"
	"testing"
)

func TestItemNames(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		st := createStore(t, s, "Item Names")
		for _, tc := range []struct{ in, want string }{
			{"  Pad  ", "Pad"},
			{strings.Repeat("é", 80), strings.Repeat("é", 80)},
			{"Duplicate", "Duplicate"},
			{"duplicate", "duplicate"}, // item names need not be unique
			{"Duplicate", "Duplicate"},
		} {
			it := createItem(t, s, st.ID, tc.in, 1)
			if it.Name != tc.want {
				t.Errorf("createItem(name: %q).name = %q, want %q", tc.in, it.Name, tc.want)
			}
		}
	})
}

func TestFilters(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		a := createStore(t, s, "Filter Store A")
		b := createStore(t, s, "Filter Store B")
		empty := createStore(t, s, "Filter Store Empty")
		ids := map[string]string{} // item name -> id
		for _, it := range []struct {
			store *Store
			name  string
			price float64
		}{
			{&a, "Red Apple", 1},
			{&a, "green apple", 2},
			{&a, "APPLE pie", 3.5},
			{&a, "100% Juice", 4},
			{&a, "Juice 100", 4},
			{&a, "snake_case", 0},
			{&a, "snakeXcase", 10},
			{&a, `back\slash`, 5},
			{&a, "Banana", 99999999.99},
			{&b, "Apple B", 2},
			{&b, "Juice B", 4.01},
		} {
			ids[it.name] = createItem(t, s, it.store.ID, it.name, it.price).ID
		}
		named := func(names ...string) []string {
			out := make([]string, len(names))
			for i, n := range names {
				out[i] = ids[n]
			}
			return out // creation order is id order
		}

		for _, tc := range []struct {
			name   string
			filter vars
			want   []string
		}{
			{"storeId", vars{"storeId": b.ID}, named("Apple B", "Juice B")},
			{"storeId of a store without items", vars{"storeId": empty.ID}, nil},
			{"storeId of a missing store", vars{"storeId": globalID(storeType, 987654321)}, nil},
			{"storeId beyond int64", vars{"storeId": rawGlobalID(storeType, "99999999999999999999")}, nil},
			{"nameContains ignores case", vars{"nameContains": "apple", "storeId": a.ID}, named("Red Apple", "green apple", "APPLE pie")},
			{"nameContains upper case across stores", vars{"nameContains": "APPLE"}, named("Red Apple", "green apple", "APPLE pie", "Apple B")},
			{"nameContains mixed case", vars{"nameContains": "aPpLe P"}, named("APPLE pie")},
			{"nameContains percent is literal", vars{"nameContains": "%"}, named("100% Juice")},
			{"nameContains percent inside", vars{"nameContains": "0% j"}, named("100% Juice")},
			{"nameContains underscore is literal", vars{"nameContains": "_"}, named("snake_case")},
			{"nameContains underscore inside", vars{"nameContains": "e_c"}, named("snake_case")},
			{"nameContains backslash is literal", vars{"nameContains": `k\s`}, named(`back\slash`)},
			{"nameContains no match", vars{"nameContains": "zzz"}, nil},
			{"minPrice inclusive", vars{"minPrice": 4, "storeId": a.ID}, named("100% Juice", "Juice 100", "snakeXcase", `back\slash`, "Banana")},
			{"maxPrice inclusive", vars{"maxPrice": 2, "storeId": a.ID}, named("Red Apple", "green apple", "snake_case")},
			{"minPrice and maxPrice inclusive", vars{"minPrice": 2, "maxPrice": 4}, named("green apple", "APPLE pie", "100% Juice", "Juice 100", "Apple B")},
			{"minPrice equals maxPrice", vars{"minPrice": 4, "maxPrice": 4}, named("100% Juice", "Juice 100")},
			{"price zero", vars{"minPrice": 0, "maxPrice": 0}, named("snake_case")},
			{"maximum price", vars{"minPrice": 99999999.99}, named("Banana")},
			{"cent above", vars{"minPrice": 4.01}, named("snakeXcase", `back\slash`, "Banana", "Juice B")},
			{"empty price range", vars{"minPrice": 5, "maxPrice": 4}, nil},
			{"every filter", vars{"storeId": a.ID, "nameContains": "JUICE", "minPrice": 4, "maxPrice": 4}, named("100% Juice", "Juice 100")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := listItems(t, s, vars{"filter": tc.filter, "first": 100})
				if got := itemIDs(c.Nodes); !slices.Equal(got, tc.want) {
					t.Errorf("items(filter: %v) = %v, want %v", tc.filter, got, tc.want)
				}
				if c.TotalCount != len(tc.want) {
					t.Errorf("items(filter: %v).totalCount = %d, want %d", tc.filter, c.TotalCount, len(tc.want))
				}
				if len(tc.want) == 0 && (c.PageInfo.HasNextPage || c.PageInfo.HasPreviousPage || c.PageInfo.StartCursor != nil || c.PageInfo.EndCursor != nil) {
					t.Errorf("empty result has pageInfo %+v, want no pages and null cursors", c.PageInfo)
				}
				// With a page smaller than the result, totalCount is still the filter's count.
				if len(tc.want) > 1 {
					c := listItems(t, s, vars{"filter": tc.filter, "first": 1})
					if c.TotalCount != len(tc.want) || !c.PageInfo.HasNextPage {
						t.Errorf("first 1: totalCount %d hasNextPage %v, want %d and true", c.TotalCount, c.PageInfo.HasNextPage, len(tc.want))
					}
				}
			})
		}

		t.Run("storeId must be a store's global ID", func(t *testing.T) {
			for _, tc := range []struct{ name, storeID, message string }{
				{"an item's ID", ids["Red Apple"], wrongTypeMessage(storeType)},
				{"the integer id of before issue 8", "1", malformedIDMessage(storeType)},
				{"a malformed row", rawGlobalID(storeType, "007"), malformedIDMessage(storeType)},
			} {
				t.Run(tc.name, func(t *testing.T) {
					for _, query := range []string{
						`query($s: ID!) { items(filter: {storeId: $s}) { totalCount } }`,
						`query($id: ID!, $s: ID!) { store(id: $id) { items(filter: {storeId: $s}) { totalCount } } }`,
					} {
						wantError(t, s.Do(t, query, vars{"id": a.ID, "s": tc.storeID}), "BAD_USER_INPUT", "storeId", tc.message)
					}
				})
			}
		})

		t.Run("Store.items holds only that store's items", func(t *testing.T) {
			for _, tc := range []struct {
				store  Store
				filter vars
				want   []string
			}{
				{a, nil, named("Red Apple", "green apple", "APPLE pie", "100% Juice", "Juice 100", "snake_case", "snakeXcase", `back\slash`, "Banana")},
				{b, nil, named("Apple B", "Juice B")},
				{empty, nil, nil},
				{a, vars{"nameContains": "apple"}, named("Red Apple", "green apple", "APPLE pie")},
				{b, vars{"nameContains": "apple"}, named("Apple B")},
				{a, vars{"minPrice": 4, "maxPrice": 4.01}, named("100% Juice", "Juice 100")},
				{b, vars{"minPrice": 4, "maxPrice": 4.01}, named("Juice B")},
			} {
				c := storeItems(s, tc.store.ID)(t, vars{"filter": tc.filter})
				if got := itemIDs(c.Nodes); !slices.Equal(got, tc.want) {
					t.Errorf("%s items(filter: %v) = %v, want %v", tc.store.Name, tc.filter, got, tc.want)
				}
				if c.TotalCount != len(tc.want) {
					t.Errorf("%s items(filter: %v).totalCount = %d, want %d", tc.store.Name, tc.filter, c.TotalCount, len(tc.want))
				}
			}
		})

		t.Run("stores nameContains", func(t *testing.T) {
			more := map[string]string{}
			for _, name := range []string{"Corner Shop", "CORNER market", "The 50% Store", "under_score", "underXscore"} {
				more[name] = createStore(t, s, name).ID
			}
			for _, tc := range []struct {
				needle string
				want   []string
			}{
				{"corner", []string{more["Corner Shop"], more["CORNER market"]}},
				{"Corner M", []string{more["CORNER market"]}},
				{"%", []string{more["The 50% Store"]}},
				{"0% s", []string{more["The 50% Store"]}},
				{"_", []string{more["under_score"]}},
				{"filter store", []string{a.ID, b.ID, empty.ID}},
				{"nothing like it", nil},
			} {
				c := listStores(t, s, vars{"filter": vars{"nameContains": tc.needle}})
				if got := storeIDs(c.Nodes); !slices.Equal(got, tc.want) {
					t.Errorf("stores(nameContains: %q) = %v, want %v", tc.needle, got, tc.want)
				}
				if c.TotalCount != len(tc.want) {
					t.Errorf("stores(nameContains: %q).totalCount = %d, want %d", tc.needle, c.TotalCount, len(tc.want))
				}
			}
		})
	})
}
