package web

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/config"
)

func TestMetricsCountRequestsLatencyErrorsAndThePool(t *testing.T) {
	h, _ := testHandler(t, "sqlite::memory:", config.Config{})
	postGraphQL(h, `{"query":"query Shops { stores { totalCount } }"}`)
	postGraphQL(h, `{"query":"query Shops { stores { totalCount } }"}`)
	token := register(t, h, "metrics@example.com")
	postGraphQL(h, `{"query":"mutation Bad { a: createStore(input: {name: \"\"}) { id } b: createStore(input: {name: \"\"}) { id } }"}`, "Authorization", "Bearer "+token)
	postGraphQL(h, `{"query":"{ nope }"}`)
	text := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{}`))
	text.Header.Set("Content-Type", "text/plain")
	h.ServeHTTP(httptest.NewRecorder(), text)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil)) // not GraphQL: not counted

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	body, _ := io.ReadAll(rec.Body)
	exposition := string(body)
	for _, want := range []string{
		`storegraph_graphql_requests_total{operation="Shops",outcome="ok"} 2`,
		`storegraph_graphql_requests_total{operation="Bad",outcome="error"} 1`,
		`storegraph_graphql_requests_total{operation="(anonymous)",outcome="error"} 2`,
		`storegraph_graphql_errors_total{code="BAD_USER_INPUT"} 2`,
		`storegraph_graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED"} 1`,
		`storegraph_graphql_errors_total{code="UNSUPPORTED_MEDIA_TYPE"} 1`,
		`storegraph_graphql_request_duration_seconds_count{operation="Shops"} 2`,
		`storegraph_graphql_request_duration_seconds_bucket{operation="Shops",le="+Inf"} 2`,
		`go_sql_max_open_connections{db_name="sqlite"} 1`,
		`go_sql_open_connections{db_name="sqlite"} 1`,
		`# TYPE go_goroutines gauge`,
	} {
		if !strings.Contains(exposition, "\n"+want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(exposition)
	}
}

func TestOperationLabelsAreBounded(t *testing.T) {
	m := &metrics{operations: map[string]bool{}}
	for i := range maxOperationLabels {
		if got := m.operationLabel(fmt.Sprint("Op", i)); got != fmt.Sprint("Op", i) {
			t.Fatalf("label of name %d = %q", i, got)
		}
	}
	tests := []struct{ name, want string }{
		{"OneTooMany", "(other)"},
		{"Op0", "Op0"}, // names already seen keep their label
		{"", "(anonymous)"},
	}
	fresh := &metrics{operations: map[string]bool{}}
	for _, tt := range []struct{ name, want string }{
		{strings.Repeat("N", maxOperationBytes), strings.Repeat("N", maxOperationBytes)},
		{strings.Repeat("N", maxOperationBytes+1), "(other)"},
	} {
		if got := fresh.operationLabel(tt.name); got != tt.want {
			t.Errorf("label of a name of %d bytes = %q, want %q", len(tt.name), got, tt.want)
		}
	}
	for _, tt := range tests {
		if got := m.operationLabel(tt.name); got != tt.want {
			t.Errorf("label of %q = %q, want %q", tt.name, got, tt.want)
		}
	}
}
