package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/config"
)

// fuzzSeeds are real requests: the README's examples, the other shapes clients send, and
// a few broken ones, as POST bodies (or, with viaGET, URL query strings).
var fuzzSeeds = []struct {
	body   string
	viaGET bool
}{
	{`{"query":"mutation NewStore { createStore(input: { name: \"Corner Shop\" }) { id name createdAt } }"}`, false},
	{`{"query":"mutation NewItem { createItem(input: { name: \"Cheddar\", price: 17.99, storeId: \"gid://storegraph/Store/1\" }) { id name price store { name } } }"}`, false},
	{`{"query":"query Catalogue { stores(first: 10, orderBy: { field: NAME }) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name items(first: 5, orderBy: { field: PRICE, direction: DESC }, filter: { maxPrice: 20 }) { nodes { id name price } } } } } }"}`, false},
	{`{"query":"query NextPage($after: String) { items(first: 20, after: $after, filter: { nameContains: \"ched\" }) { nodes { name price store { name } } pageInfo { hasNextPage endCursor } } }","variables":{"after":"eyJmIjoiSUQiLCJpIjoxfQ"},"operationName":"NextPage"}`, false},
	{`{"query":"mutation Reprice($id: ID!, $p: Float) { updateItem(id: $id, input: { price: $p }) { id name price updatedAt } }","variables":{"id":"gid://storegraph/Item/1","p":15.5}}`, false},
	{`{"query":"mutation Close { deleteStore(id: \"gid://storegraph/Store/1\") }"}`, false},
	{`{"query":"{ item(id: \"gid://storegraph/Item/1\") { id store { id items(last: 2, before: \"x\") { totalCount } } } }"}`, false},
	{`{"query":"query Nodes($ids: [ID!]!) { nodes(ids: $ids) { id ... on Store { name } ... on Item { price store { id } } } }","variables":{"ids":["gid://storegraph/Store/1","gid://storegraph/Item/1","7"]}}`, false},
	{`{"query":"query { __schema { queryType { name } types { name fields { name } } } }"}`, false},
	{`{"query":"{ stores(first: -1) { nodes { id } } }"}`, false},
	{`{"query":"{ __typename }","variables":[1,2]}`, false},
	{`{"query":`, false},
	{``, false},
	{`query=%7B+stores+%7B+totalCount+%7D+%7D`, true},
	{`query=query+Q(%24id%3A+ID!)+%7B+store(id%3A+%24id)+%7B+name+%7D+%7D&variables=%7B%22id%22%3A%22gid%3A%2F%2Fstoregraph%2FStore%2F7%22%7D`, true},
}

// FuzzGraphQLHandler sends arbitrary requests through the whole HTTP handler over a real
// SQLite database. However malformed the request, the answer must be a GraphQL error
// response with a code for every error, never a 5xx (but UNAVAILABLE) and never an internal
// error: a panic anywhere would show as one of those.
func FuzzGraphQLHandler(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s.body), s.viaGET)
	}
	h, logs := testHandler(f, "sqlite:"+filepath.Join(f.TempDir(), "fuzz.db"), config.Config{})

	f.Fuzz(func(t *testing.T, body []byte, viaGET bool) {
		logs.Reset()
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		if viaGET {
			r = httptest.NewRequest(http.MethodGet, "/graphql", nil)
			r.URL.RawQuery = string(body)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)

		var resp struct {
			Errors []struct {
				Extensions struct {
					Code string `json:"code"`
				} `json:"extensions"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("status %d, body is not a JSON response (%v): %s", rec.Code, err, rec.Body)
		}
		unavailable := len(resp.Errors) > 0
		for _, e := range resp.Errors {
			switch e.Extensions.Code {
			case "":
				t.Fatalf("an error without a code: %s", rec.Body)
			case "INTERNAL_SERVER_ERROR":
				t.Fatalf("internal error: %s\nlog:\n%s", rec.Body, logs)
			}
			unavailable = unavailable && e.Extensions.Code == "UNAVAILABLE"
		}
		if rec.Code >= 500 && !unavailable {
			t.Fatalf("status %d: %s\nlog:\n%s", rec.Code, rec.Body, logs)
		}
	})
}
