package graph

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

func TestHandlerRefusesRequestsNoTransportTakes(t *testing.T) {
	h := newTestHandler(t, Options{MaxBodyBytes: 1 << 20})

	get := func(query string, operationName ...string) *http.Request {
		return getQuery("", url.Values{"query": {query}, "operationName": operationName})
	}
	post := func(contentType, body string) *http.Request {
		r := postJSON("", body)
		r.Header.Set("Content-Type", contentType)
		return r
	}
	tests := []struct {
		name       string
		req        *http.Request
		wantStatus int
		wantAllow  string
		wantBody   string
	}{
		{"GET query runs", get("{ __typename }"), 200, "", `{"data":{"__typename":"Query"}}`},
		{"GET mutation is 405", get(`mutation { createStore(input: {name: "x"}) { id } }`), 405, "POST",
			`{"errors":[{"extensions":{"code":"METHOD_NOT_ALLOWED"},"message":"Mutations must be sent with POST."}]}`},
		{"GET picks the named operation", get(`query Q { __typename } mutation M { deleteStore(id: "1") }`, "M"), 405, "POST",
			`{"errors":[{"extensions":{"code":"METHOD_NOT_ALLOWED"},"message":"Mutations must be sent with POST."}]}`},
		{"POST JSON with charset runs", post("application/json; charset=utf-8", `{"query":"{ __typename }"}`), 200, "",
			`{"data":{"__typename":"Query"}}`},
		{"POST of another media type is 415", post("text/plain", `{"query":"{ __typename }"}`), 415, "",
			`{"errors":[{"extensions":{"code":"UNSUPPORTED_MEDIA_TYPE"},"message":"Send GraphQL requests as Content-Type: application/json."}]}`},
		{"GET with null variables runs", getQuery("", url.Values{"query": {"{ __typename }"}, "variables": {"null"}}), 200, "",
			`{"data":{"__typename":"Query"}}`},
		{"POST JSON with a malformed parameter is 415", post("application/json; charset", `{"query":"{ __typename }"}`), 415, "",
			`{"errors":[{"extensions":{"code":"UNSUPPORTED_MEDIA_TYPE"},"message":"Send GraphQL requests as Content-Type: application/json."}]}`},
		{"POST subscription is 406", post("application/json", `{"query":"subscription { storeEvents { kind } }"}`), 406, "",
			`{"errors":[{"extensions":{"code":"NOT_ACCEPTABLE"},"message":"Subscriptions stream their events: send this request with Accept: text/event-stream (preferred to JSON), or over a WebSocket (graphql-transport-ws)."}]}`},
		{"GET subscription is 406", get("subscription { storeEvents { kind } }"), 406, "",
			`{"errors":[{"extensions":{"code":"NOT_ACCEPTABLE"},"message":"Subscriptions stream their events: send this request with Accept: text/event-stream (preferred to JSON), or over a WebSocket (graphql-transport-ws)."}]}`},
		{"PUT is 405", httptest.NewRequest(http.MethodPut, "/graphql", nil), 405, "GET, POST",
			`{"errors":[{"extensions":{"code":"METHOD_NOT_ALLOWED"},"message":"Use GET for queries or POST."}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tt.req)
			if rec.Code != tt.wantStatus || rec.Header().Get("Allow") != tt.wantAllow || strings.TrimSpace(rec.Body.String()) != tt.wantBody {
				t.Fatalf("got %d Allow=%q %s\nwant %d Allow=%q %s", rec.Code, rec.Header().Get("Allow"), rec.Body, tt.wantStatus, tt.wantAllow, tt.wantBody)
			}
		})
	}
}

func TestAutomaticPersistedQueries(t *testing.T) {
	h := newTestHandler(t, Options{})

	const query = "{ stores { totalCount } }"
	hash := fmt.Sprintf("%x", sha256.Sum256([]byte(query)))
	ext := `"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + hash + `"}}`
	const invalid = "{ nope }"
	invalidExt := fmt.Sprintf(`"extensions":{"persistedQuery":{"version":1,"sha256Hash":"%x"}}`, sha256.Sum256([]byte(invalid)))
	tests := []struct {
		name string
		body string
		want string
	}{
		{"an unknown hash asks for the query", `{` + ext + `}`,
			`{"errors":[{"message":"PersistedQueryNotFound","extensions":{"code":"PERSISTED_QUERY_NOT_FOUND"}}]}`},
		{"the query with its hash runs and is remembered", `{"query":"` + query + `",` + ext + `}`,
			`{"data":{"stores":{"totalCount":0}}}`},
		{"then the hash alone runs it", `{` + ext + `}`,
			`{"data":{"stores":{"totalCount":0}}}`},
		{"a query that does not match its hash is refused", `{"query":"{ __typename }",` + ext + `}`,
			`{"errors":[{"message":"provided APQ hash does not match query","extensions":{"code":"BAD_USER_INPUT"}}]}`},
		{"a query that does not validate is refused", `{"query":"` + invalid + `",` + invalidExt + `}`,
			`{"errors":[{"message":"Cannot query field \"nope\" on type \"Query\". Did you mean \"node\" or \"nodes\"?","locations":[{"line":1,"column":3}],"extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`},
		{"and is not registered", `{` + invalidExt + `}`,
			`{"errors":[{"message":"PersistedQueryNotFound","extensions":{"code":"PERSISTED_QUERY_NOT_FOUND"}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, postJSON("", tt.body))
			if got := strings.TrimSpace(rec.Body.String()); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// countingCache is a query cache that counts its hits.
type countingCache struct {
	graphql.MapCache[*ast.QueryDocument]
	hits int
}

func (c *countingCache) Get(ctx context.Context, key string) (*ast.QueryDocument, bool) {
	doc, ok := c.MapCache.Get(ctx, key)
	if ok {
		c.hits++
	}
	return doc, ok
}

func TestParsedQueriesAreCachedByQueryText(t *testing.T) {
	cache := &countingCache{MapCache: graphql.MapCache[*ast.QueryDocument]{}}
	h := newTestHandler(t, Options{QueryCache: cache})
	const body = `{"query":"{ stores { totalCount } }"}`
	// A document seen before is looked up twice: by the document limits, which do not check
	// it again, and by gqlgen, which does not parse it again.
	for i, wantHits := range []int{0, 2} {
		x := exchange{"", postJSON("", body), 200, jsonType, `{"data":{"stores":{"totalCount":0}}}`}
		x.check(t, h)
		if cache.hits != wantHits || len(cache.MapCache) != 1 {
			t.Fatalf("request %d: %d hits, %d documents cached; want %d hits, 1 document", i+1, cache.hits, len(cache.MapCache), wantHits)
		}
	}
}
