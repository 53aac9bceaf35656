package graph

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestRequestInfoRecordsOperationAndErrorCodes(t *testing.T) {
	h := as(admin, newTestHandler(t, Options{MaxBodyBytes: 1 << 20}))

	tests := []struct {
		name        string
		contentType string
		body        string
		wantOp      string
		wantCodes   []string
	}{
		{"success records no code", "application/json", `{"query":"query Q { __typename }"}`, "Q", nil},
		{"every field error is recorded", "application/json",
			`{"query":"mutation Two { a: createStore(input: {name: \"\"}) { id } b: updateItem(id: \"x\", input: {price: -1}) { id } }"}`,
			"Two", []string{"BAD_USER_INPUT", "BAD_USER_INPUT", "BAD_USER_INPUT"}},
		{"validation errors are recorded", "application/json", `{"query":"{ nope }"}`, "", []string{"GRAPHQL_VALIDATION_FAILED"}},
		{"refusals before GraphQL are recorded", "text/plain", `{"query":"{ __typename }"}`, "", []string{"UNSUPPORTED_MEDIA_TYPE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var info RequestInfo
			r := postJSON("", tt.body)
			r.Header.Set("Content-Type", tt.contentType)
			h.ServeHTTP(httptest.NewRecorder(), r.WithContext(WithRequestInfo(r.Context(), &info)))
			got := info.ErrorCodes()
			slices.Sort(got)
			if info.Operation != tt.wantOp || !slices.Equal(got, tt.wantCodes) {
				t.Fatalf("recorded operation %q codes %v, want %q %v", info.Operation, got, tt.wantOp, tt.wantCodes)
			}
		})
	}
}

func TestResolverPanicIsAnInternalErrorWithItsStackLogged(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	// Without a database every resolver that reads one dereferences nil and panics.
	h := NewHandler(nil, log, Options{})

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, postJSON("", `{"query":"{ store(id: \"gid://storegraph/Store/1\") { id } }"}`))

	want := `{"errors":[{"message":"internal error","path":["store"],"extensions":{"code":"INTERNAL_SERVER_ERROR"}}],"data":{"store":null}}`
	if rec.Code != http.StatusOK || rec.Body.String() != want {
		t.Fatalf("got %d %s\nwant 200 %s", rec.Code, rec.Body, want)
	}
	for _, part := range []string{`"msg":"resolver panicked"`, `nil pointer dereference`, `(*DB).GetStore`} {
		if !strings.Contains(logs.String(), part) {
			t.Fatalf("log lacks %q:\n%s", part, logs.String())
		}
	}
}

// What runs after a request runs at once, unless its handler has detached it: then, in order,
// once it is done, and at once again for what comes after that.
func TestAfterRequestWaitsForADetachedRequest(t *testing.T) {
	t.Run("not detached", func(t *testing.T) {
		var info RequestInfo
		ran := false
		info.AfterRequest(func() { ran = true })
		if !ran {
			t.Fatal("AfterRequest did not run f at once")
		}
	})
	t.Run("detached", func(t *testing.T) {
		var info RequestInfo
		done := Detach(WithRequestInfo(context.Background(), &info))
		var ran []int
		info.AfterRequest(func() { ran = append(ran, 1) })
		info.AfterRequest(func() { ran = append(ran, 2) })
		if len(ran) != 0 {
			t.Fatalf("ran %v before done", ran)
		}
		done()
		info.AfterRequest(func() { ran = append(ran, 3) })
		if fmt.Sprint(ran) != "[1 2 3]" {
			t.Fatalf("ran %v, want [1 2 3]", ran)
		}
	})
	t.Run("no RequestInfo", func(t *testing.T) {
		Detach(context.Background())() // nothing to wait for
	})
}
