package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/storegraph/storegraph/auth"
	"github.com/storegraph/storegraph/config"
)

// register signs up through h and returns the session's access token.
func register(t *testing.T, h http.Handler, email string) string {
	t.Helper()
	rec := postGraphQL(h, `{"query":"mutation { register(input: {email: \"`+email+`\", password: \"web-test-password\"}) { accessToken } }"}`)
	var resp struct {
		Data struct{ Register struct{ AccessToken string } }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Data.Register.AccessToken == "" {
		t.Fatalf("register: %s", rec.Body)
	}
	return resp.Data.Register.AccessToken
}

func TestBearerTokenSignsInAndAnUnusableOneIs401WhateverTheOperation(t *testing.T) {
	h, logs := testHandler(t, "sqlite::memory:", config.Config{})
	token := register(t, h, "web@example.com")
	other, err := auth.NewTokens([]byte("another-key-another-key-another-"), 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _, err := other.Issue(auth.Claims{UserID: 1, SessionID: 1, Role: "ADMIN"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	const me = `{"query":"{ me { email } }"}`
	const refused = `{"errors":[{"extensions":{"code":"UNAUTHENTICATED"},"message":"The access token is invalid or expired; refresh it or sign in again."}]}`
	for _, tt := range []struct {
		name, header string
		wantStatus   int
		wantBody     string
	}{
		{"no header is anonymous", "", 200, `{"data":{"me":null}}`},
		{"a live session's token", "Bearer " + token, 200, `{"data":{"me":{"email":"web@example.com"}}}`},
		{"the scheme in any case", "bearer " + token, 200, `{"data":{"me":{"email":"web@example.com"}}}`},
		{"another key", "Bearer " + foreign, 401, refused},
		{"a changed signature", "Bearer " + token[:len(token)-2] + "AA", 401, refused},
		{"no token", "Bearer ", 401, refused},
		{"another scheme", "Basic d2ViOnBhc3M=", 401, refused},
		{"garbage", "Bearer not.a.jwt", 401, refused},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var header []string
			if tt.header != "" || tt.wantStatus == 401 {
				header = []string{"Authorization", tt.header}
			}
			rec := postGraphQL(h, me, header...)
			if got := strings.TrimSpace(rec.Body.String()); rec.Code != tt.wantStatus || got != tt.wantBody {
				t.Fatalf("got %d %s, want %d %s\n%s", rec.Code, got, tt.wantStatus, tt.wantBody, logs)
			}
			wantChallenge := ""
			if tt.wantStatus == 401 {
				wantChallenge = `Bearer error="invalid_token"`
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != wantChallenge {
				t.Fatalf("WWW-Authenticate %q, want %q", got, wantChallenge)
			}
		})
	}
	if strings.Contains(logs.String(), token[len(token)-20:]) || strings.Contains(logs.String(), "web-test-password") {
		t.Fatalf("a token or password reached the log:\n%s", logs)
	}
}

// Logging out refuses the session's token at once in the process that logged it out.
func TestLogoutRefusesTheSessionsTokenAtOnce(t *testing.T) {
	h, _ := testHandler(t, "sqlite::memory:", config.Config{})
	token := register(t, h, "leaving@example.com")
	for i, want := range []struct {
		query      string
		wantStatus int
	}{
		{`{"query":"{ me { email } }"}`, 200},
		{`{"query":"mutation { logout }"}`, 200},
		{`{"query":"{ me { email } }"}`, 401},
	} {
		if rec := postGraphQL(h, want.query, "Authorization", "Bearer "+token); rec.Code != want.wantStatus {
			t.Fatalf("request %d: %d %s, want %d", i, rec.Code, rec.Body, want.wantStatus)
		}
	}
}

func TestClientAddressIsThePeerAndAnIPv6ClientsSlash64(t *testing.T) {
	for _, tt := range []struct{ remote, want string }{
		{"203.0.113.7:51234", "203.0.113.7"},
		{"[::ffff:203.0.113.7]:51234", "203.0.113.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[::1]:80", "::/64"},
		{"not an address", "not an address"},
	} {
		r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{"X-Forwarded-For": {"198.51.100.1"}}}
		if got := clientAddress(r); got != tt.want {
			t.Errorf("clientAddress(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}
