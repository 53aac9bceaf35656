package graph

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/storegraph/storegraph/storage"
)

// Options tune the GraphQL endpoint.
type Options struct {
	// Introspection lets clients read the schema (GraphiQL, code generators).
	Introspection bool
	// MaxBodyBytes bounds a request body; gqlgen sets no limit of its own.
	MaxBodyBytes int64
}

// NewHandler returns the GraphQL endpoint: POST and GET (queries only) over HTTP.
func NewHandler(db *storage.DB, log *slog.Logger, opts Options) http.Handler {
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{DB: db, Log: log}}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.AroundFields(refuseIntrospection)
	}
	srv.SetErrorPresenter(ErrorPresenter(log))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "resolver panicked", "panic", p, "stack", string(debug.Stack()))
		return errors.New("panic in resolver") // presented as "internal error"
	})
	srv.AroundFields(splitValidationErrors)
	srv.AroundOperations(recordOperation)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opts.MaxBodyBytes > 0 {
			r.Body = http.MaxBytesReader(w, r.Body, opts.MaxBodyBytes)
		}
		srv.ServeHTTP(w, r)
	})
}

// RequestInfo carries what the GraphQL layer learns about a request out to the HTTP access
// log, which is written after gqlgen has finished with the request.
type RequestInfo struct {
	Operation string
}

type requestInfoKey struct{}

// WithRequestInfo returns a context in which the GraphQL handler records into info.
func WithRequestInfo(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

func recordOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if info, ok := ctx.Value(requestInfoKey{}).(*RequestInfo); ok {
		oc := graphql.GetOperationContext(ctx)
		info.Operation = oc.OperationName
		if info.Operation == "" && oc.Operation != nil {
			info.Operation = oc.Operation.Name
		}
	}
	return next(ctx)
}
