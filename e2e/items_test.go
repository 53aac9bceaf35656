package e2e

import (
	"slices"
	"strings"
	"testing"
)

func TestItemPrices(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		st := createStore(t, s, "Price Checks")
		const create = `mutation($price: Float!, $storeId: ID!) { createItem(input: {name: "Priced", price: $price, storeId: $storeId}) { ` + itemFields + ` } }`
		const update = `mutation($id: ID!, $price: Float) { updateItem(id: $id, input: {price: $price}) { ` + itemFields + ` } }`
		probe := createItem(t, s, st.ID, "Repriced", 5)

		for _, tc := range []struct {
			name  string
			price float64
			valid bool
		}{
			{"two decimals", 17.99, true},
			{"zero", 0, true},
			{"one cent", 0.01, true},
			{"one decimal", 19.9, true},
			{"whole", 42, true},
			{"maximum", 99999999.99, true},
			{"above the maximum", 100000000, false},
			{"far above the maximum", 1e15, false},
			{"three decimals", 1.999, false},
			{"sub-cent", 0.001, false},
			{"negative", -1, false},
			{"negative cent", -0.01, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := s.Do(t, create, vars{"price": tc.price, "storeId": st.ID})
				if !tc.valid {
					wantError(t, r, "BAD_USER_INPUT", "price", "")
					wantError(t, s.Do(t, update, vars{"id": probe.ID, "price": tc.price}), "BAD_USER_INPUT", "price", "")
					return
				}
				r.mustOK(t)
				var d struct{ CreateItem Item }
				r.decode(t, &d)
				if d.CreateItem.Price != tc.price {
					t.Errorf("createItem(price: %v).price = %v", tc.price, d.CreateItem.Price)
				}
				if got := getItem(t, s, d.CreateItem.ID); got == nil || got.Price != tc.price {
					t.Errorf("item(%s) = %+v, want price %v", d.CreateItem.ID, got, tc.price)
				}
				var u struct{ UpdateItem Item }
				s.OK(t, &u, update, vars{"id": probe.ID, "price": tc.price})
				if u.UpdateItem.Price != tc.price {
					t.Errorf("updateItem(price: %v).price = %v", tc.price, u.UpdateItem.Price)
				}
			})
		}

		// Invalid prices stored nothing: the store holds the probe and the valid ones.
		if c := listItems(t, s, vars{"filter": vars{"storeId": st.ID}}); c.TotalCount != 7 {
			t.Errorf("store holds %d items, want 7 (the probe and 6 valid prices): %+v", c.TotalCount, c.Nodes)
		}
	})
}

func TestItemInputReportsEveryProblem(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		st := createStore(t, s, "Many Problems")
		it := createItem(t, s, st.ID, "Fine", 1)
		for _, tc := range []struct {
			name   string
			query  string
			vars   vars
			fields []string
		}{
			{
				name:   "createItem name and price",
				query:  `mutation($storeId: ID!) { createItem(input: {name: "", price: -1, storeId: $storeId}) { id } }`,
				vars:   vars{"storeId": st.ID},
				fields: []string{"name", "price"},
			},
			{
				name:   "createItem name, price and storeId",
				query:  `mutation { createItem(input: {name: "   ", price: 1.001, storeId: "abc"}) { id } }`,
				fields: []string{"name", "price", "storeId"},
			},
			{
				name:   "createItem name, price and an item's ID as storeId",
				query:  `mutation($storeId: ID!) { createItem(input: {name: "", price: -1, storeId: $storeId}) { id } }`,
				vars:   vars{"storeId": it.ID},
				fields: []string{"name", "price", "storeId"},
			},
			{
				name:   "updateItem price and a malformed storeId",
				query:  `mutation($id: ID!) { updateItem(id: $id, input: {price: -1, storeId: "gid://storegraph/Store/-1"}) { id } }`,
				vars:   vars{"id": it.ID},
				fields: []string{"price", "storeId"},
			},
			{
				name:   "updateItem malformed id and price",
				query:  `mutation { updateItem(id: "gid://storegraph/Item/abc", input: {price: -1}) { id } }`,
				fields: []string{"id", "price"},
			},
			{
				name:   "createItem long name",
				query:  `mutation($storeId: ID!) { createItem(input: {name: "` + strings.Repeat("é", 81) + `", price: 1, storeId: $storeId}) { id } }`,
				vars:   vars{"storeId": st.ID},
				fields: []string{"name"},
			},
			{
				name:   "updateItem name and price",
				query:  `mutation($id: ID!) { updateItem(id: $id, input: {name: "", price: 100000000}) { id } }`,
				vars:   vars{"id": it.ID},
				fields: []string{"name", "price"},
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := s.Do(t, tc.query, tc.vars)
				wantFieldErrors(t, r, "BAD_USER_INPUT", tc.fields...)
				if !r.dataIsNull() {
					t.Errorf("data = %s, want null", r.Data)
				}
			})
		}
		if c := listItems(t, s, vars{"filter": vars{"storeId": st.ID}}); c.TotalCount != 1 {
			t.Errorf("store holds %d items, want only the valid one: %+v", c.TotalCount, c.Nodes)
		}
		if got := getItem(t, s, it.ID); got == nil || got.Name != "Fine" || got.Price != 1 {
			t.Errorf("after invalid updates, item = %+v, want name Fine price 1", got)
		}
	})
}

func TestUpdateItemIsPartial(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		a := createStore(t, s, "Store A")
		b := createStore(t, s, "Store B")
		it := createItem(t, s, a.ID, "Lamp", 10.5)
		const update = `mutation($id: ID!, $input: UpdateItemInput!) { updateItem(id: $id, input: $input) { ` + itemFields + ` } }`

		type want struct {
			name    string
			price   float64
			storeID string
		}
		// The steps run in order, each on the result of the one before.
		for _, tc := range []struct {
			name  string
			input vars
			want  want
		}{
			{"price only", vars{"price": 12}, want{"Lamp", 12, a.ID}},
			{"name only", vars{"name": "Desk Lamp"}, want{"Desk Lamp", 12, a.ID}},
			{"nothing", vars{}, want{"Desk Lamp", 12, a.ID}},
			{"store only", vars{"storeId": b.ID}, want{"Desk Lamp", 12, b.ID}},
			{"name and price", vars{"name": "Floor Lamp", "price": 0}, want{"Floor Lamp", 0, b.ID}},
			{"everything", vars{"name": "Lamp", "price": 99.99, "storeId": a.ID}, want{"Lamp", 99.99, a.ID}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var d struct{ UpdateItem Item }
				s.OK(t, &d, update, vars{"id": it.ID, "input": tc.input})
				for _, got := range []*Item{&d.UpdateItem, getItem(t, s, it.ID)} {
					if got == nil || got.ID != it.ID || got.Name != tc.want.name || got.Price != tc.want.price || got.Store.ID != tc.want.storeID {
						t.Errorf("item = %+v, want id %s %+v", got, it.ID, tc.want)
					}
				}
			})
		}

		t.Run("explicit null is BAD_USER_INPUT", func(t *testing.T) {
			for _, tc := range []struct {
				name, query string
				vars        vars
				field       string
			}{
				{"name null literal", `mutation($id: ID!) { updateItem(id: $id, input: {name: null}) { id } }`, vars{"id": it.ID}, "name"},
				{"price null literal", `mutation($id: ID!) { updateItem(id: $id, input: {price: null}) { id } }`, vars{"id": it.ID}, "price"},
				{"name null variable", update, vars{"id": it.ID, "input": vars{"name": nil}}, "name"},
				{"price null variable", update, vars{"id": it.ID, "input": vars{"price": nil}}, "price"},
				{"storeId null literal", `mutation($id: ID!) { updateItem(id: $id, input: {storeId: null}) { id } }`, vars{"id": it.ID}, "storeId"},
				{"storeId null variable", update, vars{"id": it.ID, "input": vars{"storeId": nil}}, "storeId"},
				{"price null beside a valid name", update, vars{"id": it.ID, "input": vars{"name": "Other", "price": nil}}, "price"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					wantError(t, s.Do(t, tc.query, tc.vars), "BAD_USER_INPUT", tc.field, "")
				})
			}
			if got := getItem(t, s, it.ID); got == nil || got.Name != "Lamp" || got.Price != 99.99 || got.Store.ID != a.ID {
				t.Errorf("after rejected updates, item = %+v, want Lamp 99.99 in store %s", got, a.ID)
			}
		})

		t.Run("moving an item changes both stores' items", func(t *testing.T) {
			var d struct{ UpdateItem Item }
			s.OK(t, &d, update, vars{"id": it.ID, "input": vars{"storeId": b.ID}})
			if d.UpdateItem.Store.ID != b.ID || d.UpdateItem.Store.Name != "Store B" {
				t.Errorf("moved item's store = %+v, want %s Store B", d.UpdateItem.Store, b.ID)
			}
			for _, tc := range []struct {
				store Store
				want  []string
			}{{a, nil}, {b, []string{it.ID}}} {
				c := storeItems(s, tc.store.ID)(t, nil)
				if got := itemIDs(c.Nodes); !slices.Equal(got, tc.want) || c.TotalCount != len(tc.want) {
					t.Errorf("%s items = %v (totalCount %d), want %v", tc.store.Name, got, c.TotalCount, tc.want)
				}
				if got := itemIDs(listItems(t, s, vars{"filter": vars{"storeId": tc.store.ID}}).Nodes); !slices.Equal(got, tc.want) {
					t.Errorf("items(storeId: %s) = %v, want %v", tc.store.ID, got, tc.want)
				}
			}
		})
	})
}

func TestDeleteStoreDeletesItsItems(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		doomed := createStore(t, s, "Closing Down")
		kept := createStore(t, s, "Staying Open")
		var doomedItems []Item
		for _, name := range []string{"One", "Two", "Three"} {
			doomedItems = append(doomedItems, createItem(t, s, doomed.ID, name, 1))
		}
		keptItem := createItem(t, s, kept.ID, "Keeper", 2)

		var d struct{ DeleteStore string }
		s.OK(t, &d, `mutation($id: ID!) { deleteStore(id: $id) }`, vars{"id": doomed.ID})
		if d.DeleteStore != doomed.ID {
			t.Errorf("deleteStore returned %q, want %q", d.DeleteStore, doomed.ID)
		}
		if got := getStore(t, s, doomed.ID); got != nil {
			t.Errorf("store(%s) = %+v after delete, want null", doomed.ID, got)
		}
		for _, it := range doomedItems {
			if got := getItem(t, s, it.ID); got != nil {
				t.Errorf("item(%s) = %+v after its store was deleted, want null", it.ID, got)
			}
		}
		if c := listItems(t, s, vars{"filter": vars{"storeId": doomed.ID}}); c.TotalCount != 0 || len(c.Nodes) != 0 {
			t.Errorf("items of the deleted store: totalCount %d, nodes %+v", c.TotalCount, c.Nodes)
		}
		if got := getItem(t, s, keptItem.ID); got == nil || *got != keptItem {
			t.Errorf("item of another store = %+v, want %+v", got, keptItem)
		}
		if c := listItems(t, s, nil); !slices.Equal(itemIDs(c.Nodes), []string{keptItem.ID}) || c.TotalCount != 1 {
			t.Errorf("all items = %v (totalCount %d), want only %s", itemIDs(c.Nodes), c.TotalCount, keptItem.ID)
		}
		if c := listStores(t, s, nil); !slices.Equal(storeIDs(c.Nodes), []string{kept.ID}) || c.TotalCount != 1 {
			t.Errorf("all stores = %v (totalCount %d), want only %s", storeIDs(c.Nodes), c.TotalCount, kept.ID)
		}

		// The deleted store's name is free again.
		again := createStore(t, s, "closing down")
		if again.ID == doomed.ID {
			t.Errorf("a new store reused the deleted store's id %s", doomed.ID)
		}
	})
}

func TestDeleteItem(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		st := createStore(t, s, "Deleting Items")
		gone := createItem(t, s, st.ID, "Gone", 1)
		kept := createItem(t, s, st.ID, "Kept", 2)

		var d struct{ DeleteItem string }
		s.OK(t, &d, `mutation($id: ID!) { deleteItem(id: $id) }`, vars{"id": gone.ID})
		if d.DeleteItem != gone.ID {
			t.Errorf("deleteItem returned %q, want %q", d.DeleteItem, gone.ID)
		}
		if got := getItem(t, s, gone.ID); got != nil {
			t.Errorf("item(%s) = %+v after delete, want null", gone.ID, got)
		}
		if got := getStore(t, s, st.ID); got == nil {
			t.Errorf("deleting an item deleted its store")
		}
		if c := listItems(t, s, vars{"filter": vars{"storeId": st.ID}}); !slices.Equal(itemIDs(c.Nodes), []string{kept.ID}) || c.TotalCount != 1 {
			t.Errorf("store items = %v (totalCount %d), want only %s", itemIDs(c.Nodes), c.TotalCount, kept.ID)
		}
	})
}
