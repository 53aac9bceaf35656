package graph

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// exchange is one request and the response it must get.
type exchange struct {
	name       string
	req        *http.Request
	wantStatus int
	wantType   string
	wantBody   string
}

func (x exchange) check(t *testing.T, h http.Handler) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, x.req)
	got := strings.TrimSpace(rec.Body.String())
	if rec.Code != x.wantStatus || rec.Header().Get("Content-Type") != x.wantType || got != x.wantBody {
		t.Fatalf("got %d %q %s\nwant %d %q %s", rec.Code, rec.Header().Get("Content-Type"), got, x.wantStatus, x.wantType, x.wantBody)
	}
}

func postJSON(accept, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	return r
}

func getQuery(accept string, params url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/graphql?"+params.Encode(), nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	return r
}

const (
	jsonType    = "application/json; charset=utf-8"
	gqlRespType = "application/graphql-response+json; charset=utf-8"
	gqlResp     = "application/graphql-response+json"
	typename    = `{"data":{"__typename":"Query"}}`
)

func badRequestBody(message string) string {
	return `{"errors":[{"extensions":{"code":"BAD_REQUEST"},"message":"` + message + `"}]}`
}

func TestTransportNegotiatesTheResponseMediaType(t *testing.T) {
	h := newTestHandler(t, Options{})
	for _, x := range []exchange{
		{"no Accept gets application/json", postJSON("", `{"query":"{ __typename }"}`), 200, jsonType, typename},
		{"*/* gets application/json", postJSON("*/*", `{"query":"{ __typename }"}`), 200, jsonType, typename},
		{"application/* gets application/json", postJSON("application/*", `{"query":"{ __typename }"}`), 200, jsonType, typename},
		{"graphql-response+json", postJSON(gqlResp, `{"query":"{ __typename }"}`), 200, gqlRespType, typename},
		{"Apollo's Accept picks the higher q", postJSON("application/json;q=0.9, application/graphql-response+json", `{"query":"{ __typename }"}`), 200, gqlRespType, typename},
		{"urql's Accept picks the first of equal q", postJSON("application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed", `{"query":"{ __typename }"}`), 200, gqlRespType, typename},
		{"q=0 refuses a type", postJSON("application/graphql-response+json;q=0, application/json", `{"query":"{ __typename }"}`), 200, jsonType, typename},
		{"GET negotiates too", getQuery(gqlResp, url.Values{"query": {"{ __typename }"}}), 200, gqlRespType, typename},
		{"nothing acceptable is 406", postJSON("text/html", `{"query":"{ __typename }"}`), 406, jsonType,
			`{"errors":[{"extensions":{"code":"NOT_ACCEPTABLE"},"message":"Accept application/graphql-response+json or application/json."}]}`},
	} {
		t.Run(x.name, func(t *testing.T) { x.check(t, h) })
	}
}

func TestTransportStatusCodesFollowTheMediaType(t *testing.T) {
	h := newTestHandler(t, Options{})
	validation := `{"errors":[{"message":"Cannot query field \"nope\" on type \"Query\". Did you mean \"node\" or \"nodes\"?","locations":[{"line":1,"column":3}],"extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`
	parse := `{"errors":[{"message":"Expected Name, found \u003cEOF\u003e","locations":[{"line":1,"column":2}],"extensions":{"code":"GRAPHQL_PARSE_FAILED"}}]}`
	coercion := `{"errors":[{"message":"cannot be null","path":["variable","id"],"extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`
	executed := `{"errors":[{"message":"first must be between 0 and 100.","path":["stores"],"locations":[{"line":1,"column":3}],"extensions":{"code":"BAD_USER_INPUT","field":"first"}}],"data":null}`
	for _, x := range []exchange{
		{"validation error as graphql-response+json is 400 without data", postJSON(gqlResp, `{"query":"{ nope }"}`), 400, gqlRespType, validation},
		{"validation error as json is 200 without data", postJSON("application/json", `{"query":"{ nope }"}`), 200, jsonType, validation},
		{"parse error as graphql-response+json is 400", postJSON(gqlResp, `{"query":"{"}`), 400, gqlRespType, parse},
		{"parse error as json is 200", postJSON("", `{"query":"{"}`), 200, jsonType, parse},
		{"variable coercion error as graphql-response+json is 400", postJSON(gqlResp, `{"query":"query($id: ID!) { store(id: $id) { id } }","variables":{"id":null}}`), 400, gqlRespType, coercion},
		{"variable coercion error as json is 200", postJSON("", `{"query":"query($id: ID!) { store(id: $id) { id } }","variables":{"id":null}}`), 200, jsonType, coercion},
		{"an executed operation is 200 with data even when it fails", postJSON(gqlResp, `{"query":"{ stores(first: 101) { totalCount } }"}`), 200, gqlRespType, executed},
	} {
		t.Run(x.name, func(t *testing.T) { x.check(t, h) })
	}
}

func TestTransportRefusesMalformedRequests(t *testing.T) {
	h := newTestHandler(t, Options{Introspection: true, MaxBodyBytes: 128})
	for _, x := range []exchange{
		{"empty body", postJSON("", ``), 400, jsonType, badRequestBody("The request body is empty: send a JSON object with a query.")},
		{"batch", postJSON("", `[{"query":"{ __typename }"}]`), 400, jsonType, badRequestBody("Batched requests are not supported: send one operation per request.")},
		{"JSON null", postJSON("", `null`), 400, jsonType, badRequestBody("The request body must be a JSON object with a query.")},
		{"invalid JSON", postJSON(gqlResp, `{"query": `), 400, gqlRespType, badRequestBody("The request body is not valid JSON: unexpected end of JSON input.")},
		{"trailing data", postJSON("", `{"query":"{ __typename }"} {}`), 400, jsonType, badRequestBody("The request body is not valid JSON: invalid character '{' after top-level value.")},
		{"missing query", postJSON("", `{"qeury":"{ __typename }"}`), 400, jsonType, badRequestBody("Missing query: send the GraphQL document as the query parameter.")},
		{"null query", postJSON("", `{"query":null}`), 400, jsonType, badRequestBody("Missing query: send the GraphQL document as the query parameter.")},
		{"object query", postJSON("", `{"query":{"obj":"ect"}}`), 400, jsonType, badRequestBody("The query parameter must be a string.")},
		{"number operationName", postJSON("", `{"query":"{ __typename }","operationName":0}`), 400, jsonType, badRequestBody("The operationName parameter must be a string.")},
		{"array variables", postJSON("", `{"query":"{ __typename }","variables":["array"]}`), 400, jsonType, badRequestBody("The variables parameter must be a JSON object.")},
		{"string extensions", postJSON("", `{"query":"{ __typename }","extensions":"string"}`), 400, jsonType, badRequestBody("The extensions parameter must be a JSON object.")},
		{"null parameters are absent", postJSON("", `{"query":"{ __typename }","operationName":null,"variables":null,"extensions":null}`), 200, jsonType, typename},
		{"unknown parameters are ignored", postJSON("", `{"query":"{ __typename }","id":"x"}`), 200, jsonType, typename},
		{"body over the limit is 413", postJSON(gqlResp, `{"query":"{ __typename }","variables":{"padding":"`+strings.Repeat("x", 128)+`"}}`), 413, gqlRespType,
			`{"errors":[{"extensions":{"code":"PAYLOAD_TOO_LARGE"},"message":"The request body is larger than the limit of 128 bytes."}]}`},
		{"GET without query", getQuery("", url.Values{}), 400, jsonType, badRequestBody("Missing query: send the GraphQL document as the query parameter.")},
		{"GET with variables that are not an object", getQuery("", url.Values{"query": {"{ __typename }"}, "variables": {"[1]"}}), 400, jsonType, badRequestBody("The variables parameter must be a JSON object.")},
		{"GET with variables and trailing data", getQuery("", url.Values{"query": {"{ __typename }"}, "variables": {`{} x`}}), 400, jsonType, badRequestBody("The variables parameter must be a JSON object.")},
		{"GET with extensions that are not JSON", getQuery("", url.Values{"query": {"{ __typename }"}, "extensions": {"{"}}), 400, jsonType, badRequestBody("The extensions parameter must be a JSON object.")},
		{"GET with variables", getQuery("", url.Values{"query": {"query($n: String!) { __type(name: $n) { name } }"}, "variables": {`{"n":"Store"}`}}), 200, jsonType, `{"data":{"__type":{"name":"Store"}}}`},
	} {
		t.Run(x.name, func(t *testing.T) { x.check(t, h) })
	}
}

func TestIntrospectionCanBeSwitchedOff(t *testing.T) {
	query := `{"query":"{ __schema { queryType { name } } __typename }"}`
	for _, tt := range []struct {
		introspection bool
		want          exchange
	}{
		{true, exchange{"on", postJSON("", query), 200, jsonType, `{"data":{"__schema":{"queryType":{"name":"Query"}},"__typename":"Query"}}`}},
		{false, exchange{"off", postJSON("", query), 200, jsonType,
			`{"errors":[{"message":"Introspection is disabled on this server.","path":["__schema"],"locations":[{"line":1,"column":3}],"extensions":{"code":"INTROSPECTION_DISABLED"}}],"data":null}`}},
	} {
		t.Run(tt.want.name, func(t *testing.T) { tt.want.check(t, newTestHandler(t, Options{Introspection: tt.introspection})) })
	}
}

func TestTransportIgnoresAnUpgradeHeader(t *testing.T) {
	h := newTestHandler(t, Options{})
	h2c := func(r *http.Request) *http.Request {
		// What curl --http2 sends on a plain-HTTP URL.
		r.Header.Set("Connection", "Upgrade, HTTP2-Settings")
		r.Header.Set("Upgrade", "h2c")
		r.Header.Set("HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA")
		return r
	}
	for _, x := range []exchange{
		{"POST", h2c(postJSON("", `{"query":"{ __typename }"}`)), 200, jsonType, typename},
		{"GET", h2c(getQuery("", url.Values{"query": {"{ __typename }"}})), 200, jsonType, typename},
	} {
		t.Run(x.name, func(t *testing.T) { x.check(t, h) })
	}
}

func TestDataResponsesAreWrittenAsJSONMarshalWritesThem(t *testing.T) {
	for _, data := range []string{
		"", // none: nil
		`null`,
		`{"stores":{"nodes":[]}}`,
		`{"item":{"name":"plain","price":17.99}}`,
		`{"item":{"name":"\u003c/script\u003e \u0026 <b>&amp;</b> > <"}}`,
		"{\"item\":{\"name\":\"line\u2028separator\u2029paragraph \u2027 \u202a\"}}",
		`{"item":{"name":"Ünïcödé ✓ 😀 \\ \" \n"}}`,
	} {
		var raw json.RawMessage
		if data != "" {
			raw = json.RawMessage(data)
		}
		want, err := json.Marshal(&graphql.Response{Data: raw})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendDataResponse(nil, raw); string(got) != string(want) {
			t.Errorf("appendDataResponse(%s) = %s, json.Marshal writes %s", data, got, want)
		}
	}
}
