package e2e

// Sign-in rate limits: per client address and per email, each a number of attempts per
// minute (and in a burst). The limits live in the process, so one server of SQLite shows
// them; the default sign-in is skipped so that every attempt is the test's own.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/storegraph/storegraph/storage/storagetest"
)

// wantRateLimited fails t unless the answer to query is exactly one RATE_LIMITED error
// whose extensions.retryAfter is a whole number of seconds from 1 to 60 that its message
// names, with no data.
func wantRateLimited(t testing.TB, s *server, query string, variables vars) {
	t.Helper()
	r, err := s.GraphQL(context.Background(), query, variables)
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	var body struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code       string          `json:"code"`
				Field      string          `json:"field"`
				RetryAfter json.RawMessage `json:"retryAfter"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		t.Fatalf("undecodable answer %s: %v", r.Raw, err)
	}
	if len(body.Errors) != 1 || body.Errors[0].Extensions.Code != "RATE_LIMITED" {
		t.Errorf("answer %s, want one RATE_LIMITED error", r.Raw)
		return
	}
	e := body.Errors[0]
	n, err := strconv.Atoi(string(e.Extensions.RetryAfter))
	if err != nil || n < 1 || n > 60 {
		t.Errorf("extensions.retryAfter = %s, want a whole number of seconds from 1 to 60; answer %s", e.Extensions.RetryAfter, r.Raw)
	}
	if want := fmt.Sprintf("Too many attempts; try again in %d seconds.", n); e.Message != want {
		t.Errorf("message %q, want %q", e.Message, want)
	}
	if e.Extensions.Field != "" {
		t.Errorf("field %q, want none", e.Extensions.Field)
	}
	if r.Status != 200 || (len(body.Data) != 0 && string(body.Data) != "null") {
		t.Errorf("HTTP %d, data %s; want 200 and null", r.Status, body.Data)
	}
}

func TestAuthRateLimitPerAddressRefusesTheFourthAttemptOfAMinute(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.NewSQLite(t)
	s := startServerWith(t, "sqlite", dbURL, serverOptions{anonymous: true, env: []string{"AUTH_RATE_PER_ADDRESS=3", "AUTH_RATE_PER_EMAIL=0"}})
	for i := 1; i <= 3; i++ {
		wantError(t, tryLogin(t, s, fmt.Sprintf("guess%d@e2e.test", i), "a wrong password"), "UNAUTHENTICATED", "", badCredentialsMessage)
	}
	// From 127.0.0.1, whatever the email or the mutation.
	wantRateLimited(t, s, loginMutation, credentials("guess4@e2e.test", "a wrong password"))
	wantRateLimited(t, s, loginMutation, credentials("guess1@e2e.test", "a wrong password"))
	wantRateLimited(t, s, registerMutation, credentials("newcomer@e2e.test", testPassword))
	// The refused registration made no account.
	for _, row := range usersList(t, dbURL) {
		t.Errorf("users list shows %q after only refused registrations", row)
	}
}

func TestAuthRateLimitPerEmailRefusesTheThirdWrongLoginOnlyForThatEmail(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.NewSQLite(t)
	// The accounts come from an earlier process: registering counts as an attempt too.
	first := startServerWith(t, "sqlite", dbURL, serverOptions{anonymous: true, env: noAuthLimits})
	register(t, first, "victim@e2e.test", testPassword)
	register(t, first, "bystander@e2e.test", testPassword)
	first.Stop(t)

	s := startServerWith(t, "sqlite", dbURL, serverOptions{anonymous: true, env: []string{"AUTH_RATE_PER_ADDRESS=0", "AUTH_RATE_PER_EMAIL=2"}})
	for range 2 {
		wantError(t, tryLogin(t, s, "victim@e2e.test", "a wrong password"), "UNAUTHENTICATED", "", badCredentialsMessage)
	}
	for _, tc := range []struct {
		name, query string
		vars        vars
	}{
		{"third wrong login", loginMutation, credentials("victim@e2e.test", "a wrong password")},
		{"right password", loginMutation, credentials("victim@e2e.test", testPassword)},
		{"the email in other letters", loginMutation, credentials("VICTIM@e2e.TEST", testPassword)},
		{"registering the email", registerMutation, credentials("Victim@e2e.test", testPassword)},
	} {
		t.Run(tc.name, func(t *testing.T) { wantRateLimited(t, s, tc.query, tc.vars) })
	}
	// Another email is not limited.
	wantError(t, tryLogin(t, s, "bystander@e2e.test", "a wrong password"), "UNAUTHENTICATED", "", badCredentialsMessage)
	login(t, s, "bystander@e2e.test", testPassword)
}
