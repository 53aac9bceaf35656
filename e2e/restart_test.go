package e2e

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// snapshotQuery reads every store and item with every field.
const snapshotQuery = `{
  stores(first: 100) { totalCount nodes { ` + storeFields + ` items(first: 100) { totalCount nodes { ` + itemFields + ` } } } }
  items(first: 100) { totalCount nodes { ` + itemFields + ` } }
}`

func snapshot(t testing.TB, s *server) map[string]any {
	t.Helper()
	var d map[string]any
	s.OK(t, &d, snapshotQuery, nil)
	return d
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		first := startServer(t, backend, dbURL)
		var stores []Store
		var items []Item
		prices := [][]float64{{17.99, 0, 99999999.99}, {0.01, 12.5, 1000}, {19.9, 7, 42.42}}
		for i, name := range []string{"Persistent One", "Ünïcödé Störe", "Persistent Three"} {
			st := createStore(t, first, name)
			stores = append(stores, st)
			for j, price := range prices[i] {
				items = append(items, createItem(t, first, st.ID, name+" item "+strconv.Itoa(j), price))
			}
		}
		time.Sleep(10 * time.Millisecond)
		var u struct{ UpdateItem Item }
		first.OK(t, &u, `mutation($id: ID!, $s: ID!) { updateItem(id: $id, input: {name: "Moved and renamed", storeId: $s}) { `+itemFields+` } }`,
			vars{"id": items[0].ID, "s": stores[2].ID})
		items[0] = u.UpdateItem
		var us struct{ UpdateStore Store }
		first.OK(t, &us, `mutation($id: ID!) { updateStore(id: $id, input: {name: "Persistent Two"}) { `+storeFields+` } }`, vars{"id": stores[1].ID})
		stores[1] = us.UpdateStore
		for i := range items {
			if items[i].Store.ID == stores[1].ID {
				items[i].Store.Name = stores[1].Name
			}
		}
		var del struct{ DeleteItem string }
		first.OK(t, &del, `mutation($id: ID!) { deleteItem(id: $id) }`, vars{"id": items[1].ID})
		deleted := items[1]
		items = append(items[:1], items[2:]...)

		before := snapshot(t, first)
		first.Stop(t)

		second := startServer(t, backend, dbURL)
		after := snapshot(t, second)
		if !reflect.DeepEqual(before, after) {
			b, _ := json.MarshalIndent(before, "", "  ")
			a, _ := json.MarshalIndent(after, "", "  ")
			t.Errorf("data changed across the restart.\nbefore:\n%s\nafter:\n%s", b, a)
		}
		for _, st := range stores {
			if got := getStore(t, second, st.ID); got == nil || *got != st {
				t.Errorf("store(%s) after restart = %+v, want %+v", st.ID, got, st)
			}
		}
		for _, it := range items {
			if got := getItem(t, second, it.ID); got == nil || *got != it {
				t.Errorf("item(%s) after restart = %+v, want %+v", it.ID, got, it)
			}
		}
		if got := getItem(t, second, deleted.ID); got != nil {
			t.Errorf("deleted item(%s) is back after restart: %+v", deleted.ID, got)
		}
		if c := listItems(t, second, nil); c.TotalCount != len(items) {
			t.Errorf("after restart: %d items, want %d", c.TotalCount, len(items))
		}

		// The restarted server writes, and new ids follow the old ones.
		st := createStore(t, second, "After Restart")
		wantNewer := func(typeName, id, than string) {
			if rowID(t, typeName, id) <= rowID(t, typeName, than) {
				t.Errorf("new %s id %s is not above the old %s", typeName, id, than)
			}
		}
		wantNewer(storeType, st.ID, stores[2].ID)
		wantNewer(itemType, createItem(t, second, st.ID, "New", 1).ID, items[len(items)-1].ID)
		wantError(t, second.Do(t, `mutation { createStore(input: {name: "persistent one"}) { id } }`, nil),
			"CONFLICT", "", "A store with that name already exists.")
	})
}
