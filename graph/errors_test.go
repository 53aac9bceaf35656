package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

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
			name:    "not found keeps its resource",
			err:     fmt.Errorf("wrapped: %w", &storage.NotFoundError{Resource: "Store"}),
			wantMsg: "Store not found",
			wantExt: map[string]any{"code": "NOT_FOUND"},
		},
		{
			name:    "conflict",
			err:     &storage.ConflictError{Message: "A store with that name already exists."},
			wantMsg: "A store with that name already exists.",
			wantExt: map[string]any{"code": "CONFLICT"},
		},
		{
			name:    "database outage is unavailable and hides the driver's text",
			err:     fmt.Errorf("get store 1: %w", unavailable{}),
			wantMsg: "The service is temporarily unavailable; try again shortly.",
			wantExt: map[string]any{"code": "UNAVAILABLE"},
			wantLog: "dial tcp 127.0.0.1:5432: connect: connection refused",
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

func TestSplitValidationErrorsReportsEachField(t *testing.T) {
	err := &storage.ValidationError{Fields: []storage.FieldError{{Field: "name", Message: "a"}, {Field: "price", Message: "b"}}}
	_, got := splitValidationErrors(context.Background(), func(context.Context) (any, error) { return nil, err })

	var list gqlerror.List
	if !errors.As(got, &list) || len(list) != 2 {
		t.Fatalf("got %#v, want a list of two errors", got)
	}
	for i, want := range []string{"name", "price"} {
		var ve *storage.ValidationError
		if !errors.As(list[i], &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != want {
			t.Fatalf("error %d = %v, want one problem with field %q", i, list[i], want)
		}
	}
}
