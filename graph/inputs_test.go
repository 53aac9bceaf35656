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

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

func TestParseIDReadsPositiveIntegersAndIDsBeyondInt64AsNoRow(t *testing.T) {
	for _, tt := range []struct {
		id      string
		want    int64
		invalid bool
	}{
		{"7", 7, false},
		{"9223372036854775807", math.MaxInt64, false},
		{"9223372036854775808", noRow, false},
		{"99999999999999999999", noRow, false},
		{"0", 0, true},
		{"-5", 0, true},
		{"-99999999999999999999", 0, true},
		{"7.5", 0, true},
		{"abc", 0, true},
		{"", 0, true},
	} {
		t.Run(tt.id, func(t *testing.T) {
			got, err := parseID("id", tt.id)
			if got != tt.want || errors.Is(err, storage.ErrInvalid) != tt.invalid {
				t.Fatalf("parseID(%q) = %d, %v; want %d, invalid %v", tt.id, got, err, tt.want, tt.invalid)
			}
		})
	}
}

// shop is a database with the stores Alpha (items a1, a2, a3) and Beta (no items), and the
// GraphQL endpoint over it.
type shop struct {
	handler     http.Handler
	alpha, beta string // store ids
	item        string // a1's id
}

func newShop(t *testing.T, url string) shop {
	t.Helper()
	ctx := context.Background()
	db := newTestDB(t, url)
	var ids []int64
	for _, name := range []string{"Alpha", "Beta"} {
		s, err := db.CreateStore(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	var items []int64
	for i := range 3 {
		it, err := db.CreateItem(ctx, storage.ItemInput{Name: fmt.Sprintf("a%d", i+1), Price: 1, StoreID: ids[0]})
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it.ID)
	}
	return shop{handler: NewHandler(db, discardLog(), Options{}), alpha: formatID(ids[0]), beta: formatID(ids[1]), item: formatID(items[0])}
}

// fill replaces {alpha}, {beta} and {item} in s with the shop's ids.
func (s shop) fill(text string) string {
	return strings.NewReplacer("{alpha}", s.alpha, "{beta}", s.beta, "{item}", s.item).Replace(text)
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
				tests = append(tests, []struct{ name, query, want string }{
					{"createItem in store " + missing, `mutation { createItem(input: {name: "x", price: 1, storeId: "` + missing + `"}) { id } }`,
						notFoundBody("createItem", "Store", "storeId")},
					{"updateItem " + missing, `mutation { updateItem(id: "` + missing + `", input: {name: "x"}) { id } }`,
						notFoundBody("updateItem", "Item", "id")},
					{"updateItem " + missing + " into another missing store", `mutation { updateItem(id: "` + missing + `", input: {storeId: "` + missing + `"}) { id } }`,
						notFoundBody("updateItem", "Item", "id")},
					{"updateItem into store " + missing, `mutation { updateItem(id: "{item}", input: {storeId: "` + missing + `"}) { id } }`,
						notFoundBody("updateItem", "Store", "storeId")},
					{"updateStore " + missing, `mutation { updateStore(id: "` + missing + `", input: {name: "x"}) { id } }`,
						notFoundBody("updateStore", "Store", "id")},
					{"deleteStore " + missing, `mutation { deleteStore(id: "` + missing + `") }`,
						notFoundBody("deleteStore", "Store", "id")},
					{"deleteItem " + missing, `mutation { deleteItem(id: "` + missing + `") }`,
						notFoundBody("deleteItem", "Item", "id")},
					{"store " + missing, `{ store(id: "` + missing + `") { id } }`, `{"data":{"store":null}}`},
					{"item " + missing, `{ item(id: "` + missing + `") { id } }`, `{"data":{"item":null}}`},
					{"items of store " + missing, `{ items(filter: {storeId: "` + missing + `"}) { totalCount nodes { id } } }`,
						`{"data":{"items":{"totalCount":0,"nodes":[]}}}`},
				}...)
			}
			tests = append(tests, []struct{ name, query, want string }{
				{"an invalid input still comes before an unknown id", `mutation { updateItem(id: "` + beyond + `", input: {name: ""}) { id } }`,
					`{"errors":[{"message":"Name must not be empty.","path":["updateItem"],"locations":[{"line":1,"column":12}],"extensions":{"code":"BAD_USER_INPUT","field":"name"}}],"data":null}`},
				{"zero is malformed", `{ store(id: "0") { id } }`,
					`{"errors":[{"message":"Not a valid ID: expected a positive integer such as \"7\".","path":["store"],"locations":[{"line":1,"column":3}],"extensions":{"code":"BAD_USER_INPUT","field":"id"}}],"data":{"store":null}}`},
				{"a negative id beyond int64 is malformed", `{ item(id: "-` + beyond + `") { id } }`,
					`{"errors":[{"message":"Not a valid ID: expected a positive integer such as \"7\".","path":["item"],"locations":[{"line":1,"column":3}],"extensions":{"code":"BAD_USER_INPUT","field":"id"}}],"data":{"item":null}}`},
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
