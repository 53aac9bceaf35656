package graph

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/storage"
)

func TestHandlerRefusesRequestsNoTransportTakes(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := storage.Open(context.Background(), "sqlite::memory:", log)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(db, log, Options{MaxBodyBytes: 1 << 20})

	get := func(query string, operationName ...string) *http.Request {
		params := url.Values{"query": {query}, "operationName": operationName}
		return httptest.NewRequest(http.MethodGet, "/graphql?"+params.Encode(), nil)
	}
	post := func(contentType, body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
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
		{"GET with a malformed query string is 400", httptest.NewRequest(http.MethodGet, "/graphql?query=%7B__typename%7D&x=%", nil), 400, "",
			`{"errors":[{"extensions":{"code":"BAD_USER_INPUT"},"message":"The URL's query string is malformed."}]}`},
		{"GET with variables that are not an object is 400",
			httptest.NewRequest(http.MethodGet, "/graphql?"+url.Values{"query": {"{ __typename }"}, "variables": {"[1,2]"}}.Encode(), nil), 400, "",
			`{"errors":[{"extensions":{"code":"BAD_USER_INPUT"},"message":"variables must be a JSON object."}]}`},
		{"GET with extensions that are not JSON is 400",
			httptest.NewRequest(http.MethodGet, "/graphql?"+url.Values{"query": {"{ __typename }"}, "extensions": {"{"}}.Encode(), nil), 400, "",
			`{"errors":[{"extensions":{"code":"BAD_USER_INPUT"},"message":"extensions must be a JSON object."}]}`},
		{"GET with null variables runs", httptest.NewRequest(http.MethodGet, "/graphql?"+url.Values{"query": {"{ __typename }"}, "variables": {"null"}}.Encode(), nil), 200, "",
			`{"data":{"__typename":"Query"}}`},
		{"POST JSON with a malformed parameter is 415", post("application/json; charset", `{"query":"{ __typename }"}`), 415, "",
			`{"errors":[{"extensions":{"code":"UNSUPPORTED_MEDIA_TYPE"},"message":"Send GraphQL requests as Content-Type: application/json."}]}`},
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
