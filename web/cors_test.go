package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/storegraph/storegraph/config"
)

func TestCORS(t *testing.T) {
	type want struct {
		status                             int
		allowOrigin, allowCreds, allowMeth string
		vary                               string
	}
	const (
		shop  = "https://shop.example"
		other = "https://evil.example"
	)
	preflight := func(origin string) *http.Request {
		r := httptest.NewRequest(http.MethodOptions, "/graphql", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "content-type")
		return r
	}
	simple := func(origin string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		return r
	}
	const preflightVary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
	tests := []struct {
		name   string
		policy config.CORS
		req    *http.Request
		want   want
	}{
		{"no origins configured adds nothing", config.CORS{}, simple(shop), want{status: 200}},
		{"no origins configured leaves preflight to the endpoint", config.CORS{}, preflight(shop), want{status: 200}},
		{"an allowed origin may read the response", config.CORS{Origins: []string{shop}}, simple(shop),
			want{status: 200, allowOrigin: shop, vary: "Origin"}},
		{"another origin may not", config.CORS{Origins: []string{shop}}, simple(other), want{status: 200, vary: "Origin"}},
		{"a same-origin request needs nothing", config.CORS{Origins: []string{shop}}, simple(""), want{status: 200, vary: "Origin"}},
		{"preflight from an allowed origin", config.CORS{Origins: []string{shop}}, preflight(shop),
			want{status: 204, allowOrigin: shop, allowMeth: "GET, POST", vary: preflightVary}},
		{"preflight from another origin is forbidden", config.CORS{Origins: []string{shop}}, preflight(other),
			want{status: 403, vary: preflightVary}},
		{"a wildcard allows any origin", config.CORS{Origins: []string{"*"}}, simple(other),
			want{status: 200, allowOrigin: "*", vary: "Origin"}},
		{"credentials only when configured", config.CORS{Origins: []string{shop}, Credentials: true}, preflight(shop),
			want{status: 204, allowOrigin: shop, allowCreds: "true", allowMeth: "GET, POST", vary: preflightVary}},
	}
	endpoint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			withCORS(tt.policy, endpoint).ServeHTTP(rec, tt.req)
			h := rec.Header()
			got := want{rec.Code, h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"),
				h.Get("Access-Control-Allow-Methods"), h.Get("Vary")}
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
