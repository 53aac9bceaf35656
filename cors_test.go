package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
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
		policy corsPolicy
		req    *http.Request
		want   want
	}{
		{"no origins configured adds nothing", corsPolicy{}, simple(shop), want{status: 200}},
		{"no origins configured leaves preflight to the endpoint", corsPolicy{}, preflight(shop), want{status: 200}},
		{"an allowed origin may read the response", corsPolicy{origins: []string{shop}}, simple(shop),
			want{status: 200, allowOrigin: shop, vary: "Origin"}},
		{"another origin may not", corsPolicy{origins: []string{shop}}, simple(other), want{status: 200, vary: "Origin"}},
		{"a same-origin request needs nothing", corsPolicy{origins: []string{shop}}, simple(""), want{status: 200, vary: "Origin"}},
		{"preflight from an allowed origin", corsPolicy{origins: []string{shop}}, preflight(shop),
			want{status: 204, allowOrigin: shop, allowMeth: "GET, POST", vary: preflightVary}},
		{"preflight from another origin is forbidden", corsPolicy{origins: []string{shop}}, preflight(other),
			want{status: 403, vary: preflightVary}},
		{"a wildcard allows any origin", corsPolicy{origins: []string{"*"}}, simple(other),
			want{status: 200, allowOrigin: "*", vary: "Origin"}},
		{"credentials only when configured", corsPolicy{origins: []string{shop}, credentials: true}, preflight(shop),
			want{status: 204, allowOrigin: shop, allowCreds: "true", allowMeth: "GET, POST", vary: preflightVary}},
	}
	endpoint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.policy.wrap(endpoint).ServeHTTP(rec, tt.req)
			h := rec.Header()
			got := want{rec.Code, h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"),
				h.Get("Access-Control-Allow-Methods"), h.Get("Vary")}
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLoadCORS(t *testing.T) {
	tests := []struct {
		name, origins, credentials string
		want                       corsPolicy
		wantErr                    string
	}{
		{"unset allows no other origin", "", "", corsPolicy{}, ""},
		{"a list, trimmed, without trailing slashes", " https://a.example/, http://localhost:5173 ", "",
			corsPolicy{origins: []string{"https://a.example", "http://localhost:5173"}}, ""},
		{"credentials on", "https://a.example", "true", corsPolicy{origins: []string{"https://a.example"}, credentials: true}, ""},
		{"credentials must be a boolean", "https://a.example", "yes please", corsPolicy{}, `CORS_ALLOW_CREDENTIALS="yes please" is not true or false`},
		{"credentials refuse a wildcard", "*", "true", corsPolicy{}, `CORS_ALLOW_CREDENTIALS=true needs CORS_ORIGINS to list origins, not "*"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CORS_ORIGINS", tt.origins)
			t.Setenv("CORS_ALLOW_CREDENTIALS", tt.credentials)
			got, err := loadCORS()
			if !checkError(t, err, tt.wantErr) {
				return
			}
			if !slices.Equal(got.origins, tt.want.origins) || got.credentials != tt.want.credentials {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
