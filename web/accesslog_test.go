package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/config"
)

func TestAccessLogLineCarriesOperationStatusDurationAndRequestID(t *testing.T) {
	h, logs := testHandler(t, "sqlite::memory:", config.Config{})
	tests := []struct {
		name          string
		request       func() *http.Request
		wantPath      string
		wantOperation string
		wantStatus    int
	}{
		{"a named query", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"query Shops { stores { totalCount } }"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, "/graphql", "Shops", http.StatusOK},
		{"a refused request", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"query Shops { stores { totalCount } }"}`))
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, "/graphql", "", http.StatusUnsupportedMediaType},
		{"not GraphQL", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/healthz", nil) }, "/healthz", "", http.StatusOK},
		{"a long operation name is cut", func() *http.Request {
			name := strings.Repeat("N", 5000)
			r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"query `+name+` { stores { totalCount } }"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, "/graphql", strings.Repeat("N", 100) + "…", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			r := tt.request()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			var request map[string]any
			for _, line := range logLines(t, logs.String()) {
				if line["msg"] == "request" {
					if request != nil {
						t.Fatalf("two access log lines:\n%s", logs)
					}
					request = line
				}
			}
			if request == nil {
				t.Fatalf("no access log line:\n%s", logs)
			}
			duration, ok := request["duration_ms"].(float64)
			if !ok || duration < 0 {
				t.Fatalf("duration_ms = %v, want a non-negative number", request["duration_ms"])
			}
			if id := rec.Header().Get(requestIDHeader); id == "" || request["request_id"] != id {
				t.Fatalf("request_id = %v, want the response's X-Request-ID %q", request["request_id"], id)
			}
			got := [4]any{request["method"], request["path"], request["operation"], request["status"]}
			want := [4]any{r.Method, tt.wantPath, tt.wantOperation, float64(tt.wantStatus)}
			if got != want {
				t.Fatalf("method, path, operation, status = %v, want %v\n%s", got, want, logs)
			}
		})
	}
}
