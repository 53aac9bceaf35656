package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// queryBody is the JSON body of a request for query, running the operation named A if
// there is one.
func queryBody(query string) string {
	params := map[string]string{"query": query}
	if strings.Contains(query, "query A ") {
		params["operationName"] = "A"
	}
	b, _ := json.Marshal(params)
	return string(b)
}

func refused(code, message string) string {
	return `{"errors":[{"message":"` + message + `","extensions":{"code":"` + code + `"}}]}`
}

func TestLimitsRefuseDocumentsBeforeExecution(t *testing.T) {
	tests := []struct {
		name       string
		limits     Limits
		query      string
		wantStatus int
		wantBody   string
	}{
		{"bytes at the limit run", Limits{Bytes: 14}, `{ __typename }`, 200, typename},
		{"one byte over is refused", Limits{Bytes: 13}, `{ __typename }`, 400,
			refused("SIZE_LIMIT_EXCEEDED", "The document is larger than 13 bytes.")},
		{"comments count as bytes", Limits{Bytes: 19}, "{ __typename } # pad", 400,
			refused("SIZE_LIMIT_EXCEEDED", "The document is larger than 19 bytes.")},

		{"tokens at the limit run", Limits{Tokens: 3}, `{ __typename }`, 200, typename},
		{"one token over is refused", Limits{Tokens: 2}, `{ __typename }`, 400,
			refused("TOKEN_LIMIT_EXCEEDED", "The document has more than 2 tokens.")},

		{"expanded fields at the limit run", Limits{Fields: 4}, `{ ...F ...F } fragment F on Query { __typename }`, 200, typename},
		{"each spread counts its fragment again", Limits{Fields: 4}, `{ ...F ...F } fragment F on Query { a: __typename b: __typename }`, 400,
			refused("FIELD_LIMIT_EXCEEDED", "The document has more than 4 fields once its fragments are expanded.")},
		{"a chain of doubling fragments is refused at once", Limits{Fields: 2000}, doublingChain(60), 400,
			refused("FIELD_LIMIT_EXCEEDED", "The document has more than 2000 fields once its fragments are expanded.")},
		{"a fragment cycle is validation's to report", Limits{Fields: 10, FieldRepeats: 2}, `{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }`, 400,
			`{"errors":[{"message":"Cannot spread fragment \"A\" within itself via \"B\".","locations":[{"line":1,"column":64}],"extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`},

		{"repeats at the limit run", Limits{FieldRepeats: 2}, `{ __typename ...F } fragment F on Query { __typename }`, 200, typename},
		{"repeats through fragments are refused", Limits{FieldRepeats: 2}, `{ __typename ...F } fragment F on Query { __typename ... on Query { __typename } }`, 400,
			`{"errors":[{"message":"The field \"__typename\" is selected more than 2 times in one place of the response; select it once.","locations":[{"line":1,"column":3}],"extensions":{"code":"REPEAT_LIMIT_EXCEEDED"}}]}`},
		{"repeats count where merged parents put them", Limits{FieldRepeats: 2}, `{ stores { totalCount totalCount } stores { totalCount } }`, 400,
			`{"errors":[{"message":"The field \"totalCount\" is selected more than 2 times in one place of the response; select it once.","locations":[{"line":1,"column":12}],"extensions":{"code":"REPEAT_LIMIT_EXCEEDED"}}]}`},
		{"aliases make places of their own", Limits{FieldRepeats: 1}, `{ a: __typename b: __typename }`, 200, `{"data":{"a":"Query","b":"Query"}}`},

		{"depth at the limit runs", Limits{Depth: 2}, `{ stores { totalCount } }`, 200, `{"data":{"stores":{"totalCount":0}}}`},
		{"one level deeper is refused", Limits{Depth: 2}, `{ stores { nodes { id } } }`, 400,
			refused("DEPTH_LIMIT_EXCEEDED", "The document has 3 levels of nested fields; the limit is 2.")},
		{"depth counts through fragments", Limits{Depth: 2}, `{ ...F } fragment F on Query { stores { ... on StoreConnection { nodes { id } } } }`, 400,
			refused("DEPTH_LIMIT_EXCEEDED", "The document has 3 levels of nested fields; the limit is 2.")},
		{"introspection does not count towards depth", Limits{Depth: 1}, `{ __type(name: "Store") { fields { type { ofType { name } } } } }`, 200,
			// (owner, a nullable User, has no ofType)
			`{"data":{"__type":{"fields":[{"type":{"ofType":{"name":"ID"}}},{"type":{"ofType":{"name":"String"}}},{"type":{"ofType":{"name":"Time"}}},{"type":{"ofType":{"name":"Time"}}},{"type":{"ofType":null}},{"type":{"ofType":{"name":"ItemConnection"}}}]}}}`},

		{"aliases at the limit run", Limits{Aliases: 2}, `{ a: __typename b: __typename }`, 200, `{"data":{"a":"Query","b":"Query"}}`},
		{"one alias over is refused", Limits{Aliases: 2}, `{ a: __typename b: __typename c: __typename }`, 400,
			refused("ALIAS_LIMIT_EXCEEDED", "The document has 3 aliases; the limit is 2.")},
		{"aliases count in the whole document", Limits{Aliases: 2}, `query A { a: __typename } query B { b: __typename c: __typename }`, 400,
			refused("ALIAS_LIMIT_EXCEEDED", "The document has 3 aliases; the limit is 2.")},

		{"a connection costs its page size times its selection", Limits{Complexity: 31}, `{ stores(first: 10) { nodes { id name } } }`, 200,
			`{"data":{"stores":{"nodes":[]}}}`},
		{"nested connections multiply", Limits{Complexity: 140}, `{ stores(first: 10) { nodes { id name items(first: 10) { totalCount } } } }`, 400,
			refused("COMPLEXITY_LIMIT_EXCEEDED", "operation has complexity 141, which exceeds the limit of 140")},
		{"last weighs like first", Limits{Complexity: 6}, `{ items(last: 3) { nodes { id } } }`, 400,
			refused("COMPLEXITY_LIMIT_EXCEEDED", "operation has complexity 7, which exceeds the limit of 6")},
		{"no size weighs the default page of 20", Limits{Complexity: 40}, `{ items { nodes { id } } }`, 400,
			refused("COMPLEXITY_LIMIT_EXCEEDED", "operation has complexity 41, which exceeds the limit of 40")},
		{"a size over the page limit gets the page-size error", Limits{Complexity: 101}, `{ stores(first: 1000) { totalCount } }`, 200,
			`{"errors":[{"message":"first must be between 0 and 100.","path":["stores"],"locations":[{"line":1,"column":3}],"extensions":{"code":"BAD_USER_INPUT","field":"first"}}],"data":null}`},

		{"a cursor over the length limit is refused before any work", Limits{}, `{ stores { nodes { items(after: "` + strings.Repeat("A", 1025) + `") { totalCount } } } }`, 400,
			`{"errors":[{"message":"Invalid cursor.","locations":[{"line":1,"column":20}],"extensions":{"code":"BAD_USER_INPUT","field":"after"}}]}`},

		{"page size at the limit runs", Limits{PageSize: 5}, `{ stores(first: 5) { totalCount } }`, 200, `{"data":{"stores":{"totalCount":0}}}`},
		{"a page over the limit is refused", Limits{PageSize: 5}, `{ items(last: 6) { totalCount } }`, 200,
			`{"errors":[{"message":"last must be between 0 and 5.","path":["items"],"locations":[{"line":1,"column":3}],"extensions":{"code":"BAD_USER_INPUT","field":"last"}}],"data":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler(t, Options{Introspection: true, Limits: tt.limits})
			// As application/graphql-response+json, a document refused before execution is a 400.
			exchange{tt.name, postJSON(gqlResp, queryBody(tt.query)), tt.wantStatus, gqlRespType, tt.wantBody}.check(t, h)
		})
	}
}

// doublingChain is a document whose fragments each spread the one before twice: n links
// expand to 2^n fields.
func doublingChain(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{ stores { nodes { ...F%d } } } fragment F0 on Store { id }", n)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, " fragment F%d on Store { ...F%d ...F%d }", i, i-1, i-1)
	}
	return b.String()
}

func TestAnOperationNameLongerThanTheDocumentIsNotEchoed(t *testing.T) {
	h := newTestHandler(t, Options{})
	body, _ := json.Marshal(map[string]any{"query": "{ __typename }", "operationName": strings.Repeat("N", 1<<20)})
	exchange{"", postJSON(gqlResp, string(body)), 400, gqlRespType,
		`{"errors":[{"message":"operation ` + strings.Repeat("N", 100) + `… not found","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`}.check(t, h)
}

func TestARequestWhoseContextEndedIsNotParsed(t *testing.T) {
	cache := &countingCache{MapCache: graphql.MapCache[*ast.QueryDocument]{}}
	h := newTestHandler(t, Options{QueryCache: cache})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	exchange{"", postJSON(gqlResp, queryBody("{ __typename }")).WithContext(ctx), 503, gqlRespType,
		`{"errors":[{"extensions":{"code":"UNAVAILABLE"},"message":"The service is temporarily unavailable; try again shortly."}]}`}.check(t, h)
	if len(cache.MapCache) != 0 {
		t.Fatalf("the document was parsed and cached")
	}
}

func TestCursorsInVariablesAreCheckedBeforeAnyWork(t *testing.T) {
	h := newTestHandler(t, Options{})
	body, _ := json.Marshal(map[string]any{
		"query":     `query($c: String) { items(before: $c) { totalCount } }`,
		"variables": map[string]string{"c": strings.Repeat("A", 1025)},
	})
	exchange{"", postJSON(gqlResp, string(body)), 400, gqlRespType,
		`{"errors":[{"message":"Invalid cursor.","locations":[{"line":1,"column":21}],"extensions":{"code":"BAD_USER_INPUT","field":"before"}}]}`}.check(t, h)
}

func TestValidationReportsAtMostAHundredErrors(t *testing.T) {
	h := newTestHandler(t, Options{Limits: Limits{FieldRepeats: 20}})
	var q strings.Builder
	q.WriteString("{")
	for i := range 20 {
		fmt.Fprintf(&q, ` store(id: "%d") { id }`, i) // 190 conflicting pairs
	}
	q.WriteString(" }")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, postJSON(gqlResp, queryBody(q.String())))
	var resp struct {
		Errors []struct {
			Locations  []any
			Extensions struct{ Code string }
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 400 || len(resp.Errors) != 100 {
		t.Fatalf("status %d, %d errors; want 400 and 100", rec.Code, len(resp.Errors))
	}
	for i, e := range resp.Errors {
		if e.Extensions.Code != "GRAPHQL_VALIDATION_FAILED" || len(e.Locations) == 0 {
			t.Fatalf("error %d: code %q, locations %v", i, e.Extensions.Code, e.Locations)
		}
	}
}

func TestDefaultLimitsAdmitTwoLevelsOfFullPagesButNotThree(t *testing.T) {
	h := newTestHandler(t, Options{Introspection: true, Limits: DefaultLimits})
	item := `id name price createdAt updatedAt store { id name }`
	twoLevels := `{
		stores(first: 100) { totalCount nodes { id name createdAt updatedAt items(first: 100) { totalCount nodes { ` + item + ` } } } }
		items(first: 100) { totalCount nodes { ` + item + ` } }
	}`
	threeLevels := `{ stores(first: 100) { nodes { items(first: 100) { nodes { store { items(first: 100) { nodes { id } } } } } } } }`
	for _, x := range []exchange{
		{"two levels", postJSON(gqlResp, queryBody(twoLevels)), 200, gqlRespType,
			`{"data":{"stores":{"totalCount":0,"nodes":[]},"items":{"totalCount":0,"nodes":[]}}}`},
		{"three levels", postJSON(gqlResp, queryBody(threeLevels)), 400, gqlRespType,
			refused("COMPLEXITY_LIMIT_EXCEEDED", "operation has complexity 2030201, which exceeds the limit of 200000")},
	} {
		t.Run(x.name, func(t *testing.T) { x.check(t, h) })
	}
}

func TestDefaultLimitsAdmitTwelveLevelsOfNestedFieldsButNotThirteen(t *testing.T) {
	h := newTestHandler(t, Options{Limits: DefaultLimits})
	// Eleven levels open, in pages of one to keep complexity out of the way.
	const eleven = `stores(first: 1) { nodes { items(first: 1) { nodes { store { items(first: 1) { nodes { store { items(first: 1) { nodes { store { `
	const closeEleven = ` } } } } } } } } } } }`
	for _, x := range []exchange{
		{"twelve levels", postJSON(gqlResp, queryBody(`{ `+eleven+`id`+closeEleven+` }`)), 200, gqlRespType,
			`{"data":{"stores":{"nodes":[]}}}`},
		{"thirteen levels", postJSON(gqlResp, queryBody(`{ `+eleven+`items(first: 1) { totalCount }`+closeEleven+` }`)), 400, gqlRespType,
			refused("DEPTH_LIMIT_EXCEEDED", "The document has 13 levels of nested fields; the limit is 12.")},
	} {
		t.Run(x.name, func(t *testing.T) { x.check(t, h) })
	}
}
