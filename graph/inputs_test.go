package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/graph/model"
	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

func TestParseIDNamesTheExpectedTypeWithItsArticle(t *testing.T) {
	for _, tt := range []struct{ typeName, other, want string }{
		{storeType, itemType, "Not a Store ID."},
		{itemType, storeType, "Not an Item ID."},
		{userType, storeType, "Not a User ID."},
	} {
		_, err := parseID("id", tt.typeName, model.GlobalID(tt.other, 1))
		var invalid *storage.ValidationError
		if !errors.As(err, &invalid) || invalid.Fields[0].Message != tt.want {
			t.Errorf("parseID of a %s ID as a %s: %v, want %q", tt.other, tt.typeName, err, tt.want)
		}
	}
}

func TestParseIDReadsGlobalIDsOfItsTypeAndRowsBeyondInt64AsNoRow(t *testing.T) {
	const malformed = `Not a valid ID: expected a global ID such as "gid://storegraph/Store/7".`
	for _, tt := range []struct {
		id      string
		want    int64
		wantErr string
	}{
		{"gid://storegraph/Store/7", 7, ""},
		{"gid://storegraph/Store/9223372036854775807", math.MaxInt64, ""},
		{"gid://storegraph/Store/9223372036854775808", noRow, ""},
		{"gid://storegraph/Store/99999999999999999999", noRow, ""},
		{"gid://storegraph/Item/7", 0, "Not a Store ID."},
		{"gid://storegraph/Store/0", 0, malformed},
		{"gid://storegraph/Store/007", 0, malformed},
		{"gid://storegraph/Store/-5", 0, malformed},
		{"gid://storegraph/Store/7.5", 0, malformed},
		{"gid://storegraph/Store/", 0, malformed},
		{"gid://storegraph//7", 0, malformed},
		{"gid://other/Store/7", 0, malformed},
		{"7", 0, malformed},
		{"", 0, malformed},
	} {
		t.Run(tt.id, func(t *testing.T) {
			got, err := parseID("id", storeType, tt.id)
			gotErr := ""
			var invalid *storage.ValidationError
			if errors.As(err, &invalid) {
				gotErr = invalid.Fields[0].Message
			}
			if got != tt.want || gotErr != tt.wantErr || (err == nil) != (tt.wantErr == "") {
				t.Fatalf("parseID(%q) = %d, %v; want %d, %q", tt.id, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// shop is a database with the stores Alpha (items a1, a2, a3) and Beta (no items), and the
// GraphQL endpoint over it.
type shop struct {
	handler     http.Handler
	alpha, beta string // store ids; alpha is owned by user, beta by nobody
	item        string // a1's id
	user        string
}

func newShop(t *testing.T, url string) shop {
	t.Helper()
	ctx := context.Background()
	db := newTestDB(t, url)
	owner, err := db.CreateUser(ctx, "owner@example.com", "not a real hash")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, store := range []struct {
		name string
		by   storage.Actor
	}{{"Alpha", storage.Actor{UserID: owner.ID}}, {"Beta", adminActor}} {
		s, err := db.CreateStore(ctx, store.by, store.name)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	var items []int64
	for i := range 3 {
		it, err := db.CreateItem(ctx, adminActor, storage.ItemInput{Name: fmt.Sprintf("a%d", i+1), Price: 1, StoreID: ids[0]})
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it.ID)
	}
	return shop{handler: as(admin, NewHandler(db, discardLog(), Options{})), alpha: model.GlobalID(storeType, ids[0]), beta: model.GlobalID(storeType, ids[1]),
		item: model.GlobalID(itemType, items[0]), user: model.GlobalID(userType, owner.ID)}
}

// fill replaces {alpha}, {beta}, {item} and {user} in s with the shop's ids.
func (s shop) fill(text string) string {
	return strings.NewReplacer("{alpha}", s.alpha, "{beta}", s.beta, "{item}", s.item, "{user}", s.user).Replace(text)
}

// notFoundBody is the response to `mutation { <field>(…) … }` when the input named by
// inputField names no row of resource.
func notFoundBody(field, resource, inputField string) string {
	return `{"errors":[{"message":"` + resource + ` not found.","path":["` + field + `"],"locations":[{"line":1,"column":12}],` +
		`"extensions":{"code":"NOT_FOUND","field":"` + inputField + `"}}],"data":null}`
}

func TestUnknownIDsAreNotFoundOnTheInputThatNamedThem(t *testing.T) {
	// Beyond int64 no row can exist in either database: such an id is answered as any
	// unknown one, not as a malformed one.
	const beyond = "99999999999999999999"
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := newShop(t, b.New(t))
			tests := []struct{ name, query, want string }{}
			for _, missing := range []string{"987654321", beyond} {
				store, item := "gid://storegraph/Store/"+missing, "gid://storegraph/Item/"+missing
				tests = append(tests, []struct{ name, query, want string }{
					{"createItem in store " + missing, `mutation { createItem(input: {name: "x", price: 1, storeId: "` + store + `"}) { id } }`,
						notFoundBody("createItem", "Store", "storeId")},
					{"updateItem " + missing, `mutation { updateItem(id: "` + item + `", input: {name: "x"}) { id } }`,
						notFoundBody("updateItem", "Item", "id")},
					{"updateItem " + missing + " into another missing store", `mutation { updateItem(id: "` + item + `", input: {storeId: "` + store + `"}) { id } }`,
						notFoundBody("updateItem", "Item", "id")},
					{"updateItem into store " + missing, `mutation { updateItem(id: "{item}", input: {storeId: "` + store + `"}) { id } }`,
						notFoundBody("updateItem", "Store", "storeId")},
					{"updateStore " + missing, `mutation { updateStore(id: "` + store + `", input: {name: "x"}) { id } }`,
						notFoundBody("updateStore", "Store", "id")},
					{"deleteStore " + missing, `mutation { deleteStore(id: "` + store + `") }`,
						notFoundBody("deleteStore", "Store", "id")},
					{"deleteItem " + missing, `mutation { deleteItem(id: "` + item + `") }`,
						notFoundBody("deleteItem", "Item", "id")},
					{"store " + missing, `{ store(id: "` + store + `") { id } }`, `{"data":{"store":null}}`},
					{"item " + missing, `{ item(id: "` + item + `") { id } }`, `{"data":{"item":null}}`},
					{"node " + missing, `{ node(id: "` + item + `") { id } }`, `{"data":{"node":null}}`},
					{"items of store " + missing, `{ items(filter: {storeId: "` + store + `"}) { totalCount nodes { id } } }`,
						`{"data":{"items":{"totalCount":0,"nodes":[]}}}`},
				}...)
			}
			tests = append(tests, []struct{ name, query, want string }{
				{"an invalid input still comes before an unknown id", `mutation { updateItem(id: "gid://storegraph/Item/` + beyond + `", input: {name: ""}) { id } }`,
					`{"errors":[{"message":"Name must not be empty.","path":["updateItem"],"locations":[{"line":1,"column":12}],"extensions":{"code":"BAD_USER_INPUT","field":"name"}}],"data":null}`},
				{"zero is malformed", `{ store(id: "gid://storegraph/Store/0") { id } }`,
					`{"errors":[{"message":"Not a valid ID: expected a global ID such as \"gid://storegraph/Store/7\".","path":["store"],"locations":[{"line":1,"column":3}],"extensions":{"code":"BAD_USER_INPUT","field":"id"}}],"data":{"store":null}}`},
				{"a negative id beyond int64 is malformed", `{ item(id: "gid://storegraph/Item/-` + beyond + `") { id } }`,
					`{"errors":[{"message":"Not a valid ID: expected a global ID such as \"gid://storegraph/Item/7\".","path":["item"],"locations":[{"line":1,"column":3}],"extensions":{"code":"BAD_USER_INPUT","field":"id"}}],"data":{"item":null}}`},
				{"an item's ID is not a store's", `mutation { createItem(input: {name: "x", price: 1, storeId: "{item}"}) { id } }`,
					`{"errors":[{"message":"Not a Store ID.","path":["createItem"],"locations":[{"line":1,"column":12}],"extensions":{"code":"BAD_USER_INPUT","field":"storeId"}}],"data":null}`},
				{"a store's ID is not an item's", `{ item(id: "{alpha}") { id } }`,
					`{"errors":[{"message":"Not an Item ID.","path":["item"],"locations":[{"line":1,"column":3}],"extensions":{"code":"BAD_USER_INPUT","field":"id"}}],"data":{"item":null}}`},
			}...)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					exchange{tt.name, postJSON("", queryBody(s.fill(tt.query))), 200, jsonType, tt.want}.check(t, s.handler)
				})
			}
			// Nothing above changed a row.
			exchange{"", postJSON("", queryBody(`{ stores { nodes { name items { nodes { name } } } } }`)), 200, jsonType,
				`{"data":{"stores":{"nodes":[{"name":"Alpha","items":{"nodes":[{"name":"a1"},{"name":"a2"},{"name":"a3"}]}},{"name":"Beta","items":{"nodes":[]}}]}}}`}.check(t, s.handler)
		})
	}
}

func TestEmptyCursorsMeanNoCursor(t *testing.T) {
	// genqlient sends "" for an optional String left unset: on every connection that is
	// the first (or last) page, as if the argument were absent.
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := newShop(t, b.New(t))
			const flags = `pageInfo { hasPreviousPage hasNextPage }`
			tests := []struct {
				name, query string
				variables   map[string]any
				want        string
			}{
				{"stores after", `{ stores(first: 1, after: "") { nodes { name } ` + flags + ` } }`, nil,
					`{"data":{"stores":{"nodes":[{"name":"Alpha"}],"pageInfo":{"hasPreviousPage":false,"hasNextPage":true}}}}`},
				{"stores before", `{ stores(last: 1, before: "") { nodes { name } ` + flags + ` } }`, nil,
					`{"data":{"stores":{"nodes":[{"name":"Beta"}],"pageInfo":{"hasPreviousPage":true,"hasNextPage":false}}}}`},
				{"items after and before", `{ items(first: 2, after: "", before: "") { nodes { name } ` + flags + ` } }`, nil,
					`{"data":{"items":{"nodes":[{"name":"a1"},{"name":"a2"}],"pageInfo":{"hasPreviousPage":false,"hasNextPage":true}}}}`},
				{"items before, as variables", `query($after: String, $before: String) { items(last: 2, after: $after, before: $before) { nodes { name } ` + flags + ` } }`,
					map[string]any{"after": "", "before": ""},
					`{"data":{"items":{"nodes":[{"name":"a2"},{"name":"a3"}],"pageInfo":{"hasPreviousPage":true,"hasNextPage":false}}}}`},
				{"a store's items after", `{ store(id: "{alpha}") { items(first: 2, after: "") { nodes { name } ` + flags + ` } } }`, nil,
					`{"data":{"store":{"items":{"nodes":[{"name":"a1"},{"name":"a2"}],"pageInfo":{"hasPreviousPage":false,"hasNextPage":true}}}}}`},
				{"every store's items before", `{ stores { nodes { items(last: 1, before: "") { nodes { name } ` + flags + ` } } } }`, nil,
					`{"data":{"stores":{"nodes":[{"items":{"nodes":[{"name":"a3"}],"pageInfo":{"hasPreviousPage":true,"hasNextPage":false}}},{"items":{"nodes":[],"pageInfo":{"hasPreviousPage":false,"hasNextPage":false}}}]}}}`},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					body, _ := json.Marshal(map[string]any{"query": s.fill(tt.query), "variables": tt.variables})
					exchange{tt.name, postJSON("", string(body)), 200, jsonType, tt.want}.check(t, s.handler)
				})
			}
		})
	}
}
