package web

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/config"
)

func TestRequestIDIsHonouredOrGeneratedAndInEveryLogLine(t *testing.T) {
	h, logs := testHandler(t, "sqlite::memory:", config.Config{})
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)

	tests := []struct {
		name   string
		sent   string // "" sends no header
		wantID string // "" wants a generated one
	}{
		{"the client's ID is kept", "req-42.a:b/c", "req-42.a:b/c"},
		{"a missing ID is generated", "", ""},
		{"an ID with a space is replaced", "two words", ""},
		{"an ID with a control character is replaced", "a\x7fb", ""},
		{"an over-long ID is replaced", strings.Repeat("x", 129), ""},
		{"an ID of 128 characters is kept", strings.Repeat("x", 128), strings.Repeat("x", 128)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			var header []string
			if tt.sent != "" {
				header = []string{"X-Request-ID", tt.sent}
			}
			// A listing logs its SQL (debug) and the access line: several lines, from
			// storage and from the HTTP layer.
			rec := postGraphQL(h, `{"query":"{ stores(first: 1) { totalCount nodes { id } } }"}`, header...)
			id := rec.Header().Get("X-Request-ID")
			if tt.wantID != "" && id != tt.wantID || tt.wantID == "" && !generated.MatchString(id) {
				t.Fatalf("response X-Request-ID = %q, want %q (empty: 32 hex digits)", id, tt.wantID)
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			var messages []string
			for _, line := range lines {
				var entry struct {
					Msg       string `json:"msg"`
					RequestID string `json:"request_id"`
				}
				if err := json.Unmarshal([]byte(line), &entry); err != nil || entry.RequestID != id {
					t.Fatalf("log line without request_id %q: %s", id, line)
				}
				messages = append(messages, entry.Msg)
			}
			if want := []string{"query", "query", "request"}; strings.Join(messages, ",") != strings.Join(want, ",") {
				t.Fatalf("logged %v, want %v", messages, want)
			}
		})
	}
}
