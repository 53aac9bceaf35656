package genqlient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Khan/genqlient/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TestCatalogue drives the generated client through the life of a catalogue: it creates
// stores and items, pages through them with first/after, updates items partially, reads
// them back by global ID through node and nodes, and deletes them.
func TestCatalogue(t *testing.T) {
	client, rec := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	started := time.Now()

	// The stores of this run, found by a filter on this tag: the test's pages and counts
	// are exact even on a server that has other stores.
	tag := fmt.Sprintf("genqlient-%d", started.UnixNano())

	// Create.
	var stores []StoreFields
	for _, suffix := range []string{"A", "B", "C"} {
		name := tag + " " + suffix
		resp, err := CreateStore(ctx, client, CreateStoreInput{Name: name})
		if err != nil {
			t.Fatalf("createStore %q: %v", name, err)
		}
		s := resp.CreateStore.StoreFields
		if s.Name != name || s.Id == "" {
			t.Fatalf("createStore %q returned %+v", name, s)
		}
		checkTimes(t, "store "+name, s.CreatedAt, s.UpdatedAt, started)
		stores = append(stores, s)
	}
	storeA, storeB, storeC := stores[0], stores[1], stores[2]
	distinct(t, "store ids", storeA.Id, storeB.Id, storeC.Id)

	type newItem struct {
		name  string
		price float64
		store StoreFields
	}
	var items []ItemFields
	for _, n := range []newItem{
		{"Apple", 0.5, storeA}, {"Bread", 2.25, storeA}, {"Cheddar", 17.99, storeA},
		{"Dates", 4, storeA}, {"Eggs", 0, storeA}, {"Flour", 3.1, storeB},
	} {
		resp, err := CreateItem(ctx, client, CreateItemInput{Name: n.name, Price: n.price, StoreId: n.store.Id})
		if err != nil {
			t.Fatalf("createItem %q: %v", n.name, err)
		}
		it := resp.CreateItem.ItemFields
		want := ItemFieldsStore{Id: n.store.Id, Name: n.store.Name}
		if it.Id == "" || it.Name != n.name || it.Price != n.price || it.Store != want {
			t.Fatalf("createItem %q (price %v, store %s) returned %+v", n.name, n.price, n.store.Id, it)
		}
		checkTimes(t, "item "+n.name, it.CreatedAt, it.UpdatedAt, started)
		items = append(items, it)
	}
	apple, bread, cheddar, dates, eggs, flour := items[0], items[1], items[2], items[3], items[4], items[5]
	// Global IDs are unique across types: no item has a store's id.
	distinct(t, "store and item ids", storeA.Id, storeB.Id, storeC.Id,
		apple.Id, bread.Id, cheddar.Id, dates.Id, eggs.Id, flour.Id)

	// List the stores two at a time. The first page has no cursor, which genqlient sends as
	// "after": "".
	filter := StoreFilter{NameContains: tag}
	first, err := ListStores(ctx, client, 2, "", filter)
	if err != nil {
		t.Fatalf("stores page 1: %v", err)
	}
	if got := rec.lastVariables(t); !reflect.DeepEqual(got, map[string]any{
		"first": json.Number("2"), "after": "", "filter": map[string]any{"nameContains": tag},
	}) {
		t.Errorf("stores page 1 sent variables %v, want first 2, after \"\" and the filter", got)
	}
	checkStorePage(t, "stores page 1", first.Stores, []StoreFields{storeA, storeB}, 3, true, false)
	second, err := ListStores(ctx, client, 2, first.Stores.PageInfo.EndCursor, filter)
	if err != nil {
		t.Fatalf("stores page 2: %v", err)
	}
	checkStorePage(t, "stores page 2", second.Stores, []StoreFields{storeC}, 3, false, true)

	// Store A's items, two at a time: 2, 2, then 1.
	wantPages := [][]ItemFields{{apple, bread}, {cheddar, dates}, {eggs}}
	after := ""
	for i, want := range wantPages {
		name := fmt.Sprintf("store A's items page %d", i+1)
		resp, err := StoreItems(ctx, client, storeA.Id, 2, after)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if resp.Store == nil {
			t.Fatalf("%s: store(id: %q) is null", name, storeA.Id)
		}
		sameStore(t, name+": the store", resp.Store.StoreFields, storeA)
		checkItemPage(t, name, resp.Store.Items, want, 5, i < len(wantPages)-1, i > 0)
		after = resp.Store.Items.PageInfo.EndCursor
	}

	// Partial updates send only the fields they set: the server refuses null, and leaves
	// every field not sent as it was.
	repriced := updateItem(t, ctx, client, rec, cheddar.Id, UpdateItemInput{Price: ptr(18.5)},
		map[string]any{"price": json.Number("18.5")})
	wantCheddar := cheddar
	wantCheddar.Price = 18.5
	sameItemChanged(t, "cheddar repriced", repriced, wantCheddar)
	got, err := GetItem(ctx, client, cheddar.Id)
	if err != nil {
		t.Fatalf("item(id: cheddar): %v", err)
	}
	if got.Item == nil {
		t.Fatalf("item(id: %q) is null after its update", cheddar.Id)
	}
	sameItem(t, "cheddar read back", got.Item.ItemFields, repriced)

	// A zero is a value, not an absent field: the pointer sends it.
	renamed := updateItem(t, ctx, client, rec, apple.Id, UpdateItemInput{Name: ptr("Apples"), Price: ptr(0.0)},
		map[string]any{"name": "Apples", "price": json.Number("0")})
	wantApple := apple
	wantApple.Name, wantApple.Price = "Apples", 0
	sameItemChanged(t, "apple renamed and made free", renamed, wantApple)

	moved := updateItem(t, ctx, client, rec, dates.Id, UpdateItemInput{StoreId: ptr(storeB.Id)},
		map[string]any{"storeId": storeB.Id})
	wantDates := dates
	wantDates.Store = ItemFieldsStore{Id: storeB.Id, Name: storeB.Name}
	sameItemChanged(t, "dates moved to store B", moved, wantDates)

	// node and nodes fetch objects of either type by global ID.
	node := getNode(t, ctx, client, storeA.Id)
	if s, ok := node.(*NodeNodeStore); !ok || *s != (NodeNodeStore{Typename: "Store", Id: storeA.Id, Name: storeA.Name}) {
		t.Errorf("node(id: store A) = %s, want Store %s %q", show(node), storeA.Id, storeA.Name)
	}
	node = getNode(t, ctx, client, cheddar.Id)
	wantNode := NodeNodeItem{Typename: "Item", Id: cheddar.Id, Name: "Cheddar", Price: 18.5, Store: NodeNodeItemStore{Id: storeA.Id}}
	if it, ok := node.(*NodeNodeItem); !ok || *it != wantNode {
		t.Errorf("node(id: cheddar) = %s, want %+v", show(node), wantNode)
	}
	checkNodes(t, ctx, client, []string{dates.Id, storeB.Id, cheddar.Id}, []NodesNodesNode{
		&NodesNodesItem{Typename: "Item", Id: dates.Id, Name: "Dates"},
		&NodesNodesStore{Typename: "Store", Id: storeB.Id, Name: storeB.Name},
		&NodesNodesItem{Typename: "Item", Id: cheddar.Id, Name: "Cheddar"},
	})

	// Delete an item: it is gone, from its store's items too.
	del, err := DeleteItem(ctx, client, eggs.Id)
	if err != nil {
		t.Fatalf("deleteItem(eggs): %v", err)
	}
	if del.DeleteItem != eggs.Id {
		t.Errorf("deleteItem(id: %q) returned %q, want the deleted item's id", eggs.Id, del.DeleteItem)
	}
	if got, err := GetItem(ctx, client, eggs.Id); err != nil || got.Item != nil {
		t.Errorf("item(id: deleted eggs) = %s, %v; want null", show(got.Item), err)
	}
	if node := getNode(t, ctx, client, eggs.Id); node != nil {
		t.Errorf("node(id: deleted eggs) = %s, want null", show(node))
	}
	left, err := StoreItems(ctx, client, storeA.Id, 10, "")
	if err != nil {
		t.Fatalf("store A's items after the moves and the delete: %v", err)
	}
	if left.Store == nil {
		t.Fatalf("store(id: %q) is null before its deletion", storeA.Id)
	}
	checkItemPage(t, "store A's items after the moves and the delete", left.Store.Items,
		[]ItemFields{renamed, bread, repriced}, 3, false, false)

	// Delete a store: node(id:) returned it, now returns null; its items went with it.
	delStore, err := DeleteStore(ctx, client, storeA.Id)
	if err != nil {
		t.Fatalf("deleteStore(A): %v", err)
	}
	if delStore.DeleteStore != storeA.Id {
		t.Errorf("deleteStore(id: %q) returned %q, want the deleted store's id", storeA.Id, delStore.DeleteStore)
	}
	if node := getNode(t, ctx, client, storeA.Id); node != nil {
		t.Errorf("node(id: deleted store A) = %s, want null", show(node))
	}
	if got, err := StoreItems(ctx, client, storeA.Id, 10, ""); err != nil || got.Store != nil {
		t.Errorf("store(id: deleted store A) = %s, %v; want null", show(got.Store), err)
	}
	if got, err := GetItem(ctx, client, cheddar.Id); err != nil || got.Item != nil {
		t.Errorf("item(id: cheddar of deleted store A) = %s, %v; want null", show(got.Item), err)
	}
	checkNodes(t, ctx, client, []string{storeA.Id, dates.Id, bread.Id, storeB.Id}, []NodesNodesNode{
		nil,
		&NodesNodesItem{Typename: "Item", Id: dates.Id, Name: "Dates"},
		nil,
		&NodesNodesStore{Typename: "Store", Id: storeB.Id, Name: storeB.Name},
	})
	after2, err := ListStores(ctx, client, 2, "", filter)
	if err != nil {
		t.Fatalf("stores after deleting A: %v", err)
	}
	checkStorePage(t, "stores after deleting A", after2.Stores, []StoreFields{storeB, storeC}, 2, false, false)

	// Deleting it again is NOT_FOUND, naming the argument.
	_, err = DeleteStore(ctx, client, storeA.Id)
	checkError(t, "deleteStore(A) again", err, "Store not found.", map[string]any{"code": "NOT_FOUND", "field": "id"})

	// Leave the server as it was.
	for _, s := range []StoreFields{storeB, storeC} {
		resp, err := DeleteStore(ctx, client, s.Id)
		if err != nil || resp.DeleteStore != s.Id {
			t.Errorf("deleteStore(%q) = %s, %v", s.Id, show(resp), err)
		}
	}
	if last, err := ListStores(ctx, client, 2, "", filter); err != nil {
		t.Errorf("stores at the end: %v", err)
	} else {
		checkStorePage(t, "stores at the end", last.Stores, nil, 0, false, false)
	}
}

func ptr[T any](v T) *T { return &v }

// updateItem sends updateItem(id, input) and checks that the request's input variable was
// exactly sent: no field beyond those set, no null.
func updateItem(t *testing.T, ctx context.Context, client graphql.Client, rec *recorder, id string, input UpdateItemInput, sent map[string]any) ItemFields {
	t.Helper()
	resp, err := UpdateItem(ctx, client, id, input)
	if got := rec.lastVariables(t); !reflect.DeepEqual(got, map[string]any{"id": id, "input": sent}) {
		t.Errorf("updateItem sent variables %v, want id %q and input %v exactly", got, id, sent)
	}
	if err != nil {
		t.Fatalf("updateItem(id: %q, input: %v): %v", id, sent, err)
	}
	return resp.UpdateItem.ItemFields
}

func getNode(t *testing.T, ctx context.Context, client graphql.Client, id string) NodeNode {
	t.Helper()
	resp, err := Node(ctx, client, id)
	if err != nil {
		t.Fatalf("node(id: %q): %v", id, err)
	}
	return resp.Node
}

func checkNodes(t *testing.T, ctx context.Context, client graphql.Client, ids []string, want []NodesNodesNode) {
	t.Helper()
	resp, err := Nodes(ctx, client, ids)
	if err != nil {
		t.Fatalf("nodes(ids: %q): %v", ids, err)
	}
	if !reflect.DeepEqual(resp.Nodes, want) {
		t.Errorf("nodes(ids: %q) = %s, want %s", ids, show(resp.Nodes), show(want))
	}
}

// checkTimes checks an object's createdAt and updatedAt just after its creation.
func checkTimes(t *testing.T, what string, created, updated, started time.Time) {
	t.Helper()
	if _, offset := created.Zone(); offset != 0 {
		t.Errorf("%s: createdAt %v is not in UTC", what, created)
	}
	// The server's clock is this machine's; allow for coarse clocks.
	if created.Before(started.Add(-time.Second)) || created.After(time.Now().Add(time.Second)) {
		t.Errorf("%s: createdAt %v is not the time of its creation (the test started at %v)", what, created, started)
	}
	if updated.Before(created) {
		t.Errorf("%s: updatedAt %v is before createdAt %v", what, updated, created)
	}
}

func distinct(t *testing.T, what string, ids ...string) {
	t.Helper()
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("%s: %q appears twice in %q", what, id, ids)
		}
		seen[id] = true
	}
}

func checkStorePage(t *testing.T, what string, c ListStoresStoresStoreConnection, want []StoreFields, total int, next, prev bool) {
	t.Helper()
	if len(c.Edges) != len(want) {
		t.Fatalf("%s: %d stores %s, want %d %s", what, len(c.Edges), show(c.Edges), len(want), show(want))
	}
	for i, e := range c.Edges {
		sameStore(t, fmt.Sprintf("%s, store %d", what, i+1), e.Node.StoreFields, want[i])
		if e.Cursor == "" {
			t.Errorf("%s, store %d: empty cursor", what, i+1)
		}
	}
	pi := c.PageInfo
	if c.TotalCount != total || pi.HasNextPage != next || pi.HasPreviousPage != prev {
		t.Errorf("%s: totalCount %d hasNextPage %v hasPreviousPage %v, want %d, %v and %v",
			what, c.TotalCount, pi.HasNextPage, pi.HasPreviousPage, total, next, prev)
	}
	wantStart, wantEnd := "", "" // null, which genqlient reads as ""
	if len(c.Edges) > 0 {
		wantStart, wantEnd = c.Edges[0].Cursor, c.Edges[len(c.Edges)-1].Cursor
	}
	if pi.StartCursor != wantStart || pi.EndCursor != wantEnd {
		t.Errorf("%s: startCursor %q endCursor %q, want the first and last edge's cursors %q and %q",
			what, pi.StartCursor, pi.EndCursor, wantStart, wantEnd)
	}
}

func checkItemPage(t *testing.T, what string, c StoreItemsStoreItemsItemConnection, want []ItemFields, total int, next, prev bool) {
	t.Helper()
	if len(c.Nodes) != len(want) {
		t.Fatalf("%s: %d items %s, want %d %s", what, len(c.Nodes), show(c.Nodes), len(want), show(want))
	}
	for i, n := range c.Nodes {
		sameItem(t, fmt.Sprintf("%s, item %d", what, i+1), n.ItemFields, want[i])
	}
	pi := c.PageInfo
	if c.TotalCount != total || pi.HasNextPage != next || pi.HasPreviousPage != prev {
		t.Errorf("%s: totalCount %d hasNextPage %v hasPreviousPage %v, want %d, %v and %v",
			what, c.TotalCount, pi.HasNextPage, pi.HasPreviousPage, total, next, prev)
	}
	if len(c.Nodes) > 0 && (pi.StartCursor == "" || pi.EndCursor == "") {
		t.Errorf("%s: startCursor %q endCursor %q, want both", what, pi.StartCursor, pi.EndCursor)
	}
}

func sameStore(t *testing.T, what string, got, want StoreFields) {
	t.Helper()
	if got.Id != want.Id || got.Name != want.Name || !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("%s = %s, want %s", what, show(got), show(want))
	}
}

func sameItem(t *testing.T, what string, got, want ItemFields) {
	t.Helper()
	if got.Id != want.Id || got.Name != want.Name || got.Price != want.Price || got.Store != want.Store ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("%s = %s, want %s", what, show(got), show(want))
	}
}

// sameItemChanged compares an item just updated with want, whose updatedAt is from before
// the update: the update moved it forward.
func sameItemChanged(t *testing.T, what string, got, want ItemFields) {
	t.Helper()
	if !got.UpdatedAt.After(want.UpdatedAt) {
		t.Errorf("%s: updatedAt %v is not after its value before the update, %v", what, got.UpdatedAt, want.UpdatedAt)
	}
	want.UpdatedAt = got.UpdatedAt
	sameItem(t, what, got, want)
}

func checkError(t *testing.T, what string, err error, message string, extensions map[string]any) {
	t.Helper()
	var list gqlerror.List
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("%s: error %v, want one GraphQL error %q %v", what, err, message, extensions)
	}
	if list[0].Message != message || !reflect.DeepEqual(list[0].Extensions, extensions) {
		t.Errorf("%s: error %q %v, want %q %v", what, list[0].Message, list[0].Extensions, message, extensions)
	}
}

// show is v as JSON, for messages.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return strings.TrimSpace(string(b))
}
