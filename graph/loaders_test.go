package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/graph/model"
	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// catalogue is a database with 50 stores of 10 items each and one store without items.
type catalogue struct {
	handler http.Handler
	stores  []*storage.Store
	empty   *storage.Store
}

func newCatalogue(t *testing.T, url string) *catalogue {
	t.Helper()
	ctx := context.Background()
	db := newTestDB(t, url)
	c := &catalogue{handler: NewHandler(db, discardLog(), Options{})}
	for i := range 50 {
		s, err := db.CreateStore(ctx, adminActor, fmt.Sprintf("Store %02d", i))
		if err != nil {
			t.Fatal(err)
		}
		c.stores = append(c.stores, s)
		for j := range 10 {
			if _, err := db.CreateItem(ctx, adminActor, storage.ItemInput{Name: fmt.Sprintf("Item %d-%d", i, j), Price: float64(j), StoreID: s.ID}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var err error
	if c.empty, err = db.CreateStore(ctx, adminActor, "Empty"); err != nil {
		t.Fatal(err)
	}
	return c
}

// query runs a GraphQL query and returns its data and the number of SQL statements it ran.
func (c *catalogue) query(t *testing.T, query string) (map[string]any, int64) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	req := postJSON("", string(body))
	var info RequestInfo
	req = req.WithContext(WithRequestInfo(req.Context(), &info))
	rec := httptest.NewRecorder()
	c.handler.ServeHTTP(rec, req)

	var resp struct {
		Data   map[string]any
		Errors []any
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Errors) > 0 {
		t.Fatalf("query failed: %s", rec.Body)
	}
	return resp.Data, info.Statements
}

// statementCount is a query and the number of SQL statements it is to run.
type statementCount struct {
	name  string
	query string
	want  int64
}

func (c *catalogue) checkStatements(t *testing.T, tests []statementCount) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := c.query(t, tt.query); got != tt.want {
				t.Fatalf("%d statements, want %d", got, tt.want)
			}
		})
	}
}

func TestNestedQueriesRunAFixedNumberOfStatements(t *testing.T) {
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			c := newCatalogue(t, b.New(t))
			tests := []statementCount{
				{"stores, their items, and the items' stores",
					`{ stores(first: 50) { nodes { items(first: 10) { nodes { store { name } } } } } }`, 2},
				{"with totalCount at both levels",
					`{ stores(first: 50) { totalCount nodes { items(first: 10) { totalCount nodes { store { name } } } } } }`, 4},
				{"with a cursor inside every store",
					`{ stores(first: 50) { nodes { items(first: 3, after: "eyJmIjoiSUQiLCJpIjoxfQ") { pageInfo { hasPreviousPage } nodes { name } } } } }`, 3},
				{"with a cursor inside every store, pageInfo not selected",
					`{ stores(first: 50) { nodes { items(first: 3, after: "eyJmIjoiSUQiLCJpIjoxfQ") { nodes { name } } } } }`, 2},
				{"with a cursor inside every store, pageInfo without its flags",
					`{ stores(first: 50) { nodes { items(first: 3, after: "eyJmIjoiSUQiLCJpIjoxfQ") { pageInfo { endCursor } nodes { name } } } } }`, 2},
				{"with a cursor inside every store, only hasNextPage",
					`{ stores(first: 50) { nodes { items(first: 3, after: "eyJmIjoiSUQiLCJpIjoxfQ") { pageInfo { hasNextPage } nodes { name } } } } }`, 2},
				{"with a cursor inside every store, hasPreviousPage skipped",
					`{ stores(first: 50) { nodes { items(first: 3, after: "eyJmIjoiSUQiLCJpIjoxfQ") { pageInfo { hasPreviousPage @skip(if: true) } nodes { name } } } } }`, 2},
				{"with a cursor inside every store, hasPreviousPage in a fragment",
					`{ stores(first: 50) { nodes { items(first: 3, after: "eyJmIjoiSUQiLCJpIjoxfQ") { ...flags nodes { name } } } } }
					fragment flags on ItemConnection { pageInfo { hasPreviousPage } }`, 3},
				{"a top-level page after a cursor",
					`{ items(first: 3, after: "eyJmIjoiSUQiLCJpIjoxfQ") { nodes { name } } }`, 1},
				{"a top-level page after a cursor, with hasNextPage, which the page itself tells",
					`{ items(first: 3, after: "eyJmIjoiSUQiLCJpIjoxfQ") { pageInfo { hasNextPage endCursor } nodes { name } } }`, 1},
				{"a top-level page after a cursor, with hasPreviousPage",
					`{ items(first: 3, after: "eyJmIjoiSUQiLCJpIjoxfQ") { pageInfo { hasPreviousPage } nodes { name } } }`, 2},
				{"stores before a cursor, with hasPreviousPage, which the page itself tells",
					`{ stores(last: 3, before: "eyJmIjoiSUQiLCJpIjo1MH0") { pageInfo { hasPreviousPage startCursor } nodes { name } } }`, 1},
				{"stores before a cursor, with hasNextPage",
					`{ stores(last: 3, before: "eyJmIjoiSUQiLCJpIjo1MH0") { pageInfo { hasNextPage } nodes { name } } }`, 2},
				{"two sorts of items under the same stores",
					`{ stores(first: 50) { nodes { cheap: items(first: 2, orderBy: {field: PRICE}) { nodes { price } } dear: items(first: 2, orderBy: {field: PRICE, direction: DESC}) { nodes { price } } } } }`, 3},
				{"items with their stores",
					`{ items(first: 100) { nodes { name store { name } } } }`, 2},
			}
			c.checkStatements(t, tests)
		})
	}
}

func TestNeighbourFlagsAreExactWhereverTheyAreSelected(t *testing.T) {
	// Two aliases with the same arguments, only one of which reads the flags: the page
	// loaded without the far-side check must not answer for the other.
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			c := newCatalogue(t, b.New(t))
			data, _ := c.query(t, `{ stores(first: 2) { nodes {
				bare: items(first: 3, after: "eyJmIjoiSUQiLCJpIjoxfQ") { nodes { name } }
				full: items(first: 3, after: "eyJmIjoiSUQiLCJpIjoxfQ") { pageInfo { hasPreviousPage hasNextPage } } } } }`)
			var got []string
			for _, n := range data["stores"].(map[string]any)["nodes"].([]any) {
				got = append(got, fmt.Sprint(n.(map[string]any)["full"]))
			}
			// The cursor is item 1, the first store's first item: only that store has a row
			// before the page.
			want := []string{
				"map[pageInfo:map[hasNextPage:true hasPreviousPage:true]]",
				"map[pageInfo:map[hasNextPage:true hasPreviousPage:false]]",
			}
			if !slices.Equal(got, want) {
				t.Fatalf("flags = %v, want %v", got, want)
			}
		})
	}
}

func TestBatchedResultsLineUpWithTheirParents(t *testing.T) {
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			c := newCatalogue(t, b.New(t))
			data, _ := c.query(t, `{ stores(first: 51, filter: {nameContains: ""}) { nodes { id name
				items(first: 2, orderBy: {field: PRICE, direction: DESC}) { totalCount nodes { name price store { id } } } } } }`)

			nodes := data["stores"].(map[string]any)["nodes"].([]any)
			if len(nodes) != 51 {
				t.Fatalf("%d stores, want 51", len(nodes))
			}
			for i, n := range nodes {
				store := n.(map[string]any)
				items := store["items"].(map[string]any)
				got := fmt.Sprint(items["totalCount"], items["nodes"])
				want := fmt.Sprintf("10 [map[name:Item %d-9 price:9 store:map[id:%s]] map[name:Item %d-8 price:8 store:map[id:%s]]]", i, store["id"], i, store["id"])
				if i == 50 {
					want = "0 []" // the store without items gets an empty page, not an error
				}
				if got != want {
					t.Fatalf("store %s: %s, want %s", store["name"], got, want)
				}
			}
		})
	}
}

func TestLoneParentsAreBatchedAndLinedUp(t *testing.T) {
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			c := newCatalogue(t, b.New(t))
			var q strings.Builder
			q.WriteString("{")
			for i, s := range c.stores[:5] {
				fmt.Fprintf(&q, ` s%d: store(id: "%s") { name items(first: 1, orderBy: {field: PRICE, direction: DESC}) { totalCount nodes { name } } }`, i, model.GlobalID("Store", s.ID))
			}
			q.WriteString("}")
			data, _ := c.query(t, q.String())
			for i := range 5 {
				got := fmt.Sprint(data[fmt.Sprintf("s%d", i)])
				want := fmt.Sprintf("map[items:map[nodes:[map[name:Item %d-9]] totalCount:10] name:Store %02d]", i, i)
				if got != want {
					t.Fatalf("s%d = %s, want %s", i, got, want)
				}
			}
		})
	}
}

// owners is a database of five users with three stores each ("Store <user>-<i>"), two
// items in every store, and a store of nobody's ("Other <user>-<i>") after each user's.
func owners(t *testing.T, url string) (*catalogue, []int64) {
	t.Helper()
	ctx := context.Background()
	db := newTestDB(t, url)
	var users []int64
	for u := range 5 {
		user, err := db.CreateUser(ctx, fmt.Sprintf("owner%d@example.com", u), "not a real hash")
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, user.ID)
	}
	for i := range 3 {
		for u, id := range users {
			for _, store := range []struct {
				name string
				by   storage.Actor
			}{{"Store", storage.Actor{UserID: id}}, {"Other", adminActor}} {
				s, err := db.CreateStore(ctx, store.by, fmt.Sprintf("%s %d-%d", store.name, u, i))
				if err != nil {
					t.Fatal(err)
				}
				for j := range 2 {
					if _, err := db.CreateItem(ctx, adminActor, storage.ItemInput{Name: fmt.Sprintf("Item %d-%d-%d", u, i, j), Price: 1, StoreID: s.ID}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	return &catalogue{handler: as(admin, NewHandler(db, discardLog(), Options{}))}, users
}

func TestUsersStoresRunAFixedNumberOfStatements(t *testing.T) {
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			c, users := owners(t, b.New(t))
			var ids []string
			for _, id := range users {
				ids = append(ids, `"`+model.GlobalID(userType, id)+`"`)
			}
			tests := []statementCount{
				{"the stores of the stores' owners, with their items",
					`{ stores(first: 30) { nodes { owner { stores(first: 2) { nodes { name items(first: 1) { nodes { name } } } } } } } }`, 4},
				{"with totalCount",
					`{ stores(first: 30) { nodes { owner { stores(first: 2) { totalCount nodes { name } } } } } }`, 4},
				{"after a cursor, with hasPreviousPage",
					`{ stores(first: 30) { nodes { owner { stores(first: 1, after: "eyJmIjoiSUQiLCJpIjoxfQ") { pageInfo { hasPreviousPage } nodes { name } } } } } }`, 4},
				{"users by id, and their stores' owners' stores",
					`{ nodes(ids: [` + strings.Join(ids, ", ") + `]) { ... on User { stores { nodes { owner { stores(first: 1) { nodes { name } } } } } } } }`, 4},
			}
			c.checkStatements(t, tests)
		})
	}
}

func TestUsersStoresLineUpWithTheirUsers(t *testing.T) {
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			c, _ := owners(t, b.New(t))
			data, _ := c.query(t, `{ stores(first: 6) { nodes { name owner { email stores(last: 2) { totalCount nodes { name } } } } } }`)
			got, _ := json.Marshal(data)
			var want strings.Builder
			want.WriteString(`{"stores":{"nodes":[`)
			for u := range 3 {
				if u > 0 {
					want.WriteString(",")
				}
				fmt.Fprintf(&want, `{"name":"Store %d-0","owner":{"email":"owner%d@example.com","stores":{"nodes":[{"name":"Store %d-1"},{"name":"Store %d-2"}],"totalCount":3}}},{"name":"Other %d-0","owner":null}`, u, u, u, u, u)
			}
			want.WriteString(`]}}`)
			if string(got) != want.String() {
				t.Fatalf("got  %s\nwant %s", got, want.String())
			}
		})
	}
}
