package graph

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/graph/model"
	"github.com/storegraph/storegraph/storage/storagetest"
)

func TestNodesFetchObjectsOfEveryTypeByGlobalIDInOneStatementPerType(t *testing.T) {
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := newShop(t, b.New(t))
			// Store 1 and item 1 share a row id: their global IDs must not.
			item2, item3 := model.GlobalID(itemType, 2), model.GlobalID(itemType, 3)
			missingStore, missingItem := model.GlobalID(storeType, 987654321), model.GlobalID(itemType, 987654321)
			const fields = `__typename id ... on Store { name } ... on Item { name store { name } } ... on User { role }`
			tests := []struct {
				name, query    string
				wantStatements int64
				want           string
			}{
				{"a store", `{ node(id: "{alpha}") { ` + fields + ` } }`, 1,
					`{"node":{"__typename":"Store","id":"{alpha}","name":"Alpha"}}`},
				{"an item and its store", `{ node(id: "{item}") { ` + fields + ` } }`, 2,
					`{"node":{"__typename":"Item","id":"{item}","name":"a1","store":{"name":"Alpha"}}}`},
				{"a user and the stores it owns", `{ node(id: "{user}") { __typename id ... on User { email role stores { nodes { name owner { id } } } } } }`, 3,
					`{"node":{"__typename":"User","email":"owner@example.com","id":"{user}","role":"USER","stores":{"nodes":[{"name":"Alpha","owner":{"id":"{user}"}}]}}}`},
				{"stores' owners in one statement, null for none", `{ stores { nodes { name owner { id } } } }`, 2,
					`{"stores":{"nodes":[{"name":"Alpha","owner":{"id":"{user}"}},{"name":"Beta","owner":null}]}}`},
				{"a missing row", `{ node(id: "` + missingStore + `") { id } }`, 1, `{"node":null}`},
				{"a type that does not exist", `{ node(id: "gid://storegraph/Shelf/1") { id } }`, 0, `{"node":null}`},
				{"mixed types in their order, null where missing; the items' store among them is not read again", `{ nodes(ids: ["{item}", "{alpha}", "` + missingItem + `", "` + item2 + `", "{user}", "{beta}", "` + item3 + `", "` + missingStore + `"]) { ` + fields + ` } }`, 3,
					`{"nodes":[{"__typename":"Item","id":"{item}","name":"a1","store":{"name":"Alpha"}},` +
						`{"__typename":"Store","id":"{alpha}","name":"Alpha"},null,` +
						`{"__typename":"Item","id":"` + item2 + `","name":"a2","store":{"name":"Alpha"}},` +
						`{"__typename":"User","id":"{user}","role":"USER"},` +
						`{"__typename":"Store","id":"{beta}","name":"Beta"},` +
						`{"__typename":"Item","id":"` + item3 + `","name":"a3","store":{"name":"Alpha"}},null]}`},
				{"stores by id, their items in one statement", `{ nodes(ids: ["{alpha}", "{beta}"]) { ... on Store { items { nodes { name } } } } }`, 2,
					`{"nodes":[{"items":{"nodes":[{"name":"a1"},{"name":"a2"},{"name":"a3"}]}},{"items":{"nodes":[]}}]}`},
				{"items by id, their stores in one statement", `{ nodes(ids: ["{item}", "` + item2 + `"]) { ... on Item { store { name } } } }`, 2,
					`{"nodes":[{"store":{"name":"Alpha"}},{"store":{"name":"Alpha"}}]}`},
				{"the same store twice, its items once each", `{ nodes(ids: ["{alpha}", "{alpha}"]) { ... on Store { items(first: 2) { nodes { name } } } } }`, 2,
					`{"nodes":[{"items":{"nodes":[{"name":"a1"},{"name":"a2"}]}},{"items":{"nodes":[{"name":"a1"},{"name":"a2"}]}}]}`},
				{"the same user twice, its stores once each", `{ nodes(ids: ["{user}", "{user}"]) { ... on User { stores { nodes { name } } } } }`, 2,
					`{"nodes":[{"stores":{"nodes":[{"name":"Alpha"}]}},{"stores":{"nodes":[{"name":"Alpha"}]}}]}`},
				{"no ids", `{ nodes(ids: []) { id } }`, 0, `{"nodes":[]}`},
				{"the same id twice", `{ nodes(ids: ["{beta}", "{beta}"]) { id } }`, 1, `{"nodes":[{"id":"{beta}"},{"id":"{beta}"}]}`},
			}
			c := &catalogue{handler: s.handler}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					data, statements := c.query(t, s.fill(tt.query))
					got, _ := json.Marshal(data)
					if string(got) != s.fill(tt.want) || statements != tt.wantStatements {
						t.Fatalf("got %s in %d statements\nwant %s in %d", got, statements, s.fill(tt.want), tt.wantStatements)
					}
				})
			}
		})
	}
}

func TestNodesRefuseMalformedIDsAndTooManyIDs(t *testing.T) {
	s := newShop(t, "sqlite::memory:")
	tooMany := `"` + strings.Repeat(`{alpha}", "`, 100) + `{alpha}"`
	tests := []struct{ name, query, want string }{
		{"a malformed id", `{ node(id: "7") { id } }`,
			`{"errors":[{"message":"Not a valid ID: \"7\".","path":["node"],"locations":[{"line":1,"column":3}],"extensions":{"code":"BAD_USER_INPUT","field":"id"}}],"data":{"node":null}}`},
		{"a malformed id among good ones", `{ nodes(ids: ["{alpha}", "gid://storegraph/Store/x"]) { id } }`,
			`{"errors":[{"message":"Not a valid ID: \"gid://storegraph/Store/x\".","path":["nodes"],"locations":[{"line":1,"column":3}],"extensions":{"code":"BAD_USER_INPUT","field":"ids"}}],"data":null}`},
		{"more ids than a page", `{ nodes(ids: [` + tooMany + `]) { id } }`,
			`{"errors":[{"message":"At most 100 ids.","path":["nodes"],"locations":[{"line":1,"column":3}],"extensions":{"code":"BAD_USER_INPUT","field":"ids"}}],"data":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exchange{tt.name, postJSON("", queryBody(s.fill(tt.query))), 200, jsonType, tt.want}.check(t, s.handler)
		})
	}
}

func TestNodesCostAnObjectPerID(t *testing.T) {
	h := newTestHandler(t, Options{Limits: Limits{Complexity: 20}})
	ids := strings.TrimSuffix(strings.Repeat(`"gid://storegraph/Store/1", `, 10), ", ")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, postJSON(gqlResp, queryBody(`{ nodes(ids: [`+ids+`]) { id ... on Store { name } } }`)))
	if want := fmt.Sprintf(`{"errors":[{"message":"operation has complexity %d, which exceeds the limit of 20","extensions":{"code":"COMPLEXITY_LIMIT_EXCEEDED"}}]}`, 1+10*2); rec.Body.String() != want {
		t.Fatalf("got %s\nwant %s", rec.Body, want)
	}
}
