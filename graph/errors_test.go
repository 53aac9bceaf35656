package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/storegraph/storegraph/auth"
	"github.com/storegraph/storegraph/storage"
)

func TestErrorPresenterMapsEveryErrorToACode(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantMsg string
		wantExt map[string]any
		wantLog string // a part of the log line; empty means nothing is logged
	}{
		{
			name:    "validation names the field",
			err:     storage.Invalid("price", "Price must be between 0 and 99999999.99."),
			wantMsg: "Price must be between 0 and 99999999.99.",
			wantExt: map[string]any{"code": "BAD_USER_INPUT", "field": "price"},
		},
		{
			name:    "not found keeps its resource and names its input",
			err:     fmt.Errorf("wrapped: %w", &storage.NotFoundError{Resource: "Store", Field: "storeId"}),
			wantMsg: "Store not found.",
			wantExt: map[string]any{"code": "NOT_FOUND", "field": "storeId"},
		},
		{
			name:    "not found that no input named has no field",
			err:     &storage.NotFoundError{Resource: "Store"},
			wantMsg: "Store not found.",
			wantExt: map[string]any{"code": "NOT_FOUND"},
		},
		{
			name:    "conflict",
			err:     &storage.ConflictError{Message: "A store with that name already exists."},
			wantMsg: "A store with that name already exists.",
			wantExt: map[string]any{"code": "CONFLICT"},
		},
		{
			name:    "forbidden keeps its message",
			err:     fmt.Errorf("update store 1: %w", &storage.ForbiddenError{Message: "Only the store's owner or an admin can change it."}),
			wantMsg: "Only the store's owner or an admin can change it.",
			wantExt: map[string]any{"code": "FORBIDDEN"},
		},
		{
			name:    "anonymous where a user is needed",
			err:     errSignIn,
			wantMsg: "Sign in to do this.",
			wantExt: map[string]any{"code": "UNAUTHENTICATED"},
		},
		{
			name:    "rate limited says when to try again, in whole seconds",
			err:     &auth.RateLimitedError{RetryAfter: 2500 * time.Millisecond},
			wantMsg: "Too many attempts; try again in 3 seconds.",
			wantExt: map[string]any{"code": "RATE_LIMITED", "retryAfter": 3},
		},
		{
			name:    "database outage is unavailable and hides the driver's text",
			err:     fmt.Errorf("get store 1: %w", unavailable{}),
			wantMsg: "The service is temporarily unavailable; try again shortly.",
			wantExt: map[string]any{"code": "UNAVAILABLE"},
			wantLog: "dial tcp 127.0.0.1:5432: connect: connection refused",
		},
		{
			name:    "the request's context ending is unavailable, not internal",
			err:     fmt.Errorf("load items: %w", context.DeadlineExceeded),
			wantMsg: "The service is temporarily unavailable; try again shortly.",
			wantExt: map[string]any{"code": "UNAVAILABLE"},
			wantLog: "context deadline exceeded",
		},
		{
			name:    "anything else is internal and hides its text",
			err:     errors.New(`pq: duplicate key value violates unique constraint "x"`),
			wantMsg: "internal error",
			wantExt: map[string]any{"code": "INTERNAL_SERVER_ERROR"},
			wantLog: "duplicate key value",
		},
		{
			name:    "introspection when it is off",
			err:     errIntrospectionDisabled,
			wantMsg: "Introspection is disabled on this server.",
			wantExt: map[string]any{"code": "INTROSPECTION_DISABLED"},
		},
		{
			name:    "a limit keeps its message and gets its own code",
			err:     limitExceeded(CodeAliasLimitExceeded, "The document has %d aliases; the limit is %d.", 31, 30),
			wantMsg: "The document has 31 aliases; the limit is 30.",
			wantExt: map[string]any{"code": "ALIAS_LIMIT_EXCEEDED"},
		},
		{
			name:    "gqlgen's own errors keep their code",
			err:     &gqlerror.Error{Message: "Cannot query field", Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}},
			wantMsg: "Cannot query field",
			wantExt: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"},
		},
		{
			name:    "gqlgen's errors without a code are the client's",
			err:     &gqlerror.Error{Message: "must not be null"},
			wantMsg: "must not be null",
			wantExt: map[string]any{"code": "BAD_USER_INPUT"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			present := ErrorPresenter(slog.New(slog.NewTextHandler(&logs, nil)))
			got := present(graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, nil), tt.err)
			if got.Message != tt.wantMsg || fmt.Sprint(got.Extensions) != fmt.Sprint(tt.wantExt) {
				t.Fatalf("presented %q %v, want %q %v", got.Message, got.Extensions, tt.wantMsg, tt.wantExt)
			}
			if tt.wantLog == "" && logs.Len() > 0 || !strings.Contains(logs.String(), tt.wantLog) {
				t.Fatalf("logged %q, want a line with %q", logs.String(), tt.wantLog)
			}
		})
	}
}

// unavailable stands for the error storage returns when the database is down.
type unavailable struct{}

func (unavailable) Error() string        { return "dial tcp 127.0.0.1:5432: connect: connection refused" }
func (unavailable) Is(target error) bool { return target == storage.ErrUnavailable }

func TestEveryValidationProblemIsAnErrorOfItsOwn(t *testing.T) {
	present := ErrorPresenter(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := graphql.WithResponseContext(context.Background(), present, nil)
	err := &storage.ValidationError{Fields: []storage.FieldError{
		{Field: "name", Message: "Name must not be empty."},
		{Field: "price", Message: "Price must be between 0 and 99999999.99."},
		{Field: "storeId", Message: "Not a valid ID."},
	}}
	graphql.AddError(ctx, err)

	var got []string
	for _, e := range graphql.GetErrors(ctx) {
		got = append(got, fmt.Sprint(e.Extensions["field"], ": ", e.Message, " ", e.Extensions["code"]))
	}
	want := []string{
		"name: Name must not be empty. BAD_USER_INPUT",
		"price: Price must be between 0 and 99999999.99. BAD_USER_INPUT",
		"storeId: Not a valid ID. BAD_USER_INPUT",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("errors = %q, want %q", got, want)
	}
}

func TestUnavailableIsLoggedOncePerRequest(t *testing.T) {
	var logs bytes.Buffer
	present := ErrorPresenter(slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := WithRequestInfo(context.Background(), &RequestInfo{})
	for _, err := range []error{context.DeadlineExceeded, unavailable{}, context.Canceled} {
		if got := present(ctx, err); got.Extensions["code"] != CodeUnavailable {
			t.Fatalf("%v presented as %v", err, got.Extensions)
		}
	}
	if lines := strings.Count(logs.String(), "\n"); lines != 1 {
		t.Fatalf("%d log lines, want 1:\n%s", lines, logs.String())
	}
}

func TestEveryErrorOfAFieldCarriesItsPathAndLocation(t *testing.T) {
	h := as(admin, newTestHandler(t, Options{}))
	exchange{"", postJSON("", queryBody(`mutation {
  createItem(input: {name: "", price: -1, storeId: "x"}) { id }
}`)), 200, jsonType, `{"errors":[` +
		`{"message":"Name must not be empty.","path":["createItem"],"locations":[{"line":2,"column":3}],"extensions":{"code":"BAD_USER_INPUT","field":"name"}},` +
		`{"message":"Price must be between 0 and 99999999.99.","path":["createItem"],"locations":[{"line":2,"column":3}],"extensions":{"code":"BAD_USER_INPUT","field":"price"}},` +
		`{"message":"Not a valid ID: expected a global ID such as \"gid://storegraph/Store/7\".","path":["createItem"],"locations":[{"line":2,"column":3}],"extensions":{"code":"BAD_USER_INPUT","field":"storeId"}}` +
		`],"data":null}`}.check(t, h)
}
