package graph

import (
	"context"
	"errors"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/storegraph/storegraph/auth"
	"github.com/storegraph/storegraph/storage"
)

// Error codes, in extensions.code of every error a client sees.
const (
	CodeBadUserInput = "BAD_USER_INPUT"
	CodeNotFound     = "NOT_FOUND"
	CodeConflict     = "CONFLICT"
	CodeInternal     = "INTERNAL_SERVER_ERROR"
	// CodeIntrospectionDisabled refuses __schema and __type when GRAPHQL_INTROSPECTION=false.
	CodeIntrospectionDisabled = "INTROSPECTION_DISABLED"
	// CodeMethodNotAllowed refuses a mutation sent with GET, and methods other than GET/POST.
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	// CodeUnsupportedMediaType refuses a POST body that is not application/json.
	CodeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	// CodeNotAcceptable refuses an Accept header that allows no JSON response, and a
	// subscription asked for as one JSON response (406).
	CodeNotAcceptable = "NOT_ACCEPTABLE"
	// CodeBadRequest refuses what is not a GraphQL-over-HTTP request: a body that is not a
	// JSON object, a missing query, a parameter of the wrong type, a batch (400).
	CodeBadRequest = "BAD_REQUEST"
	// CodePayloadTooLarge refuses a request body over the size limit (413).
	CodePayloadTooLarge = "PAYLOAD_TOO_LARGE"
	// CodeUnavailable says the database could not be reached or did not answer within the
	// request timeout: nothing is wrong with the request, and it may succeed when retried.
	CodeUnavailable = "UNAVAILABLE"
	// CodeUnauthenticated asks for credentials: none where a user is needed, a failed
	// sign-in, an unusable refresh token, or (with HTTP 401) an unusable access token.
	CodeUnauthenticated = "UNAUTHENTICATED"
	// CodeForbidden refuses a signed-in user what only an owner or an admin may do.
	CodeForbidden = "FORBIDDEN"
	// CodeRateLimited refuses an attempt beyond the sign-in rate limits; extensions.retryAfter
	// says in how many seconds to try again.
	CodeRateLimited = "RATE_LIMITED"
	// CodeCursorExpired refuses a subscription's cursor older than the events kept
	// (EVENT_RETENTION): refetch, then subscribe afresh.
	CodeCursorExpired = "CURSOR_EXPIRED"
	// CodeConnectionLimitExceeded refuses a WebSocket or SSE connection beyond
	// MAX_STREAM_CONNECTIONS (HTTP 503, before upgrading).
	CodeConnectionLimitExceeded = "CONNECTION_LIMIT_EXCEEDED"
	// CodeSubscriptionLimitExceeded refuses an operation beyond
	// MAX_SUBSCRIPTIONS_PER_CONNECTION on one WebSocket.
	CodeSubscriptionLimitExceeded = "SUBSCRIPTION_LIMIT_EXCEEDED"
)

// codedError is an error with its code (and the input it names, if any) decided where it
// is made.
type codedError struct{ code, field, message string }

func (e *codedError) Error() string { return e.message }

// InvalidTokenMessage answers a request whose Authorization header is present but unusable.
const InvalidTokenMessage = "The access token is invalid or expired; refresh it or sign in again."

const unavailableMessage = "The service is temporarily unavailable; try again shortly."

var errIntrospectionDisabled = errors.New("Introspection is disabled on this server.")

// ErrorPresenter is the one place where errors become what clients see. Storage's typed
// errors get their code and message; gqlgen's own parse and validation errors and the
// document limits' errors keep theirs; anything else is logged in full and reaches the
// client as "internal error", so that no SQL, driver message or stack trace ever leaks.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)

		var (
			invalid   *storage.ValidationError
			notFound  *storage.NotFoundError
			conflict  *storage.ConflictError
			forbidden *storage.ForbiddenError
			unauth    *unauthenticatedError
			limited   *auth.RateLimitedError
			coded     *codedError
		)
		switch {
		case errors.As(err, &invalid):
			// Each problem is an error of its own, naming its field, so that clients see all
			// of them at once: all but the last are added beside this one, in order.
			last := len(invalid.Fields) - 1
			for _, problem := range invalid.Fields[:last] {
				graphql.AddError(ctx, &gqlerror.Error{Err: &storage.ValidationError{Fields: []storage.FieldError{problem}},
					Path: gqlErr.Path, Locations: gqlErr.Locations})
			}
			problem := invalid.Fields[last]
			return withCode(gqlErr, problem.Message, CodeBadUserInput, "field", problem.Field)
		case errors.As(err, &notFound):
			return withCode(gqlErr, notFound.Error(), CodeNotFound, "field", notFound.Field)
		case errors.As(err, &conflict):
			return withCode(gqlErr, conflict.Message, CodeConflict)
		case errors.As(err, &forbidden):
			return withCode(gqlErr, forbidden.Message, CodeForbidden)
		case errors.As(err, &unauth):
			return withCode(gqlErr, unauth.message, CodeUnauthenticated)
		case errors.As(err, &coded):
			return withCode(gqlErr, coded.message, coded.code, "field", coded.field)
		case errors.As(err, &limited):
			e := withCode(gqlErr, limited.Error(), CodeRateLimited)
			e.Extensions["retryAfter"] = limited.Seconds()
			return e
		case errors.Is(err, storage.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			// The request's context ended (REQUEST_TIMEOUT, shutdown, the client left) or the
			// database is down: every field still waiting fails the same way, and one line
			// says it.
			if info := requestInfo(ctx); info == nil || info.firstUnavailable() {
				log.WarnContext(ctx, "database unavailable", "path", gqlErr.Path.String(), "error", err.Error())
			}
			return withCode(gqlErr, unavailableMessage, CodeUnavailable)
		case errors.Is(err, errIntrospectionDisabled):
			return withCode(gqlErr, errIntrospectionDisabled.Error(), CodeIntrospectionDisabled)
		case gqlErr.Err == nil && gqlErr.Extensions["code"] != nil:
			return gqlErr // gqlgen's parse and validation errors, and the limits' (limits.go)
		case gqlErr.Err == nil:
			// gqlgen's own complaints about a request (a null for a non-null value, say)
			// are the client's to fix.
			return withCode(gqlErr, gqlErr.Message, CodeBadUserInput)
		default:
			log.ErrorContext(ctx, "resolver failed", "path", gqlErr.Path.String(), "error", err.Error())
			return withCode(gqlErr, "internal error", CodeInternal)
		}
	}
}

// withCode is e with message and extensions.code, and the extra extensions given as name,
// value pairs; an empty value is left out (a NotFoundError that no input named has no field).
func withCode(e *gqlerror.Error, message, code string, extra ...string) *gqlerror.Error {
	ext := map[string]any{"code": code}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] != "" {
			ext[extra[i]] = extra[i+1]
		}
	}
	return &gqlerror.Error{Message: message, Path: e.Path, Locations: e.Locations, Extensions: ext, Rule: e.Rule}
}

// refuseIntrospection is a field middleware, installed when introspection is off, that
// answers __schema and __type with a clear error instead of gqlgen's uncoded one.
// __typename stays available: clients such as Apollo add it to every selection.
func refuseIntrospection(ctx context.Context, next graphql.Resolver) (any, error) {
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == "Query" &&
		(fc.Field.Name == "__schema" || fc.Field.Name == "__type") {
		return nil, errIntrospectionDisabled
	}
	return next(ctx)
}
