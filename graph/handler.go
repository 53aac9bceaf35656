package graph

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/storegraph/storegraph/events"
	"github.com/storegraph/storegraph/storage"
)

// Options tune the GraphQL endpoint.
type Options struct {
	// Introspection lets clients read the schema (GraphiQL, code generators).
	Introspection bool
	// MaxBodyBytes bounds a request body; gqlgen sets no limit of its own.
	MaxBodyBytes int64
	// Limits bound the GraphQL document and the page size.
	Limits Limits
	// Admission bounds the operations executing at once.
	Admission Admission
	// Accounts is what register, login and the other session mutations need.
	Accounts Accounts
	// Events serves subscriptions; Transports (WebSocket, server-sent events) carry them, and
	// take the requests they support before the HTTP transport does.
	Events     *events.Hub
	Transports []graphql.Transport
	// QueryCache keeps parsed and validated documents by query text; nil means a cache of
	// queryCacheBytes.
	QueryCache graphql.Cache[*ast.QueryDocument]

	// gqlgenOnly leaves the fast path out: gqlgen executes every operation, as the reference
	// that the fast path's answers are compared with.
	gqlgenOnly bool
}

// The caches are bounded by bytes. A parsed document holds about 31 bytes of syntax tree per
// byte of its text (measured on field-heavy documents; comments and string literals cost
// nothing beyond the text), so each is charged 32 times its length: the query cache holds
// about 1 MB of distinct documents. A document over maxCachedQueryBytes is neither cached
// nor registered as a persisted query (MAX_QUERY_BYTES refuses such documents by default).
// The plan cache is charged the same for the document a plan keeps, and planFieldBytes for
// each field of the plan.
const (
	queryCacheBytes     = 32 << 20
	persistedQueryBytes = 8 << 20
	planCacheBytes      = 8 << 20
	maxCachedQueryBytes = 64 << 10
	parsedBytesPerByte  = 32
)

// NewHandler returns the GraphQL endpoint: POST and GET (queries only) over HTTP.
func NewHandler(db *storage.DB, log *slog.Logger, opts Options) http.Handler {
	return newHandler(db, log, opts, newAdmission(opts.Admission))
}

// newHandler is NewHandler with the admission state given, so that tests can fill it.
func newHandler(db *storage.DB, log *slog.Logger, opts Options, admit *admission) http.Handler {
	pageSize := cmp.Or(opts.Limits.PageSize, storage.MaxPageSize)
	opts.Limits.PageSize = pageSize
	es := NewExecutableSchema(Config{
		Resolvers: &Resolver{DB: db, Log: log, MaxPageSize: pageSize, Accounts: opts.Accounts, Events: opts.Events},
	}).(*executableSchema)
	srv := handler.New(es)
	srv.AddTransport(transport.Options{})
	for _, t := range opts.Transports {
		srv.AddTransport(t)
	}
	srv.AddTransport(httpTransport{maxBodyBytes: opts.MaxBodyBytes, admission: admit})
	// Parsed and validated documents are kept by query text, and clients may send a query's
	// hash alone once the server has seen it (automatic persisted queries).
	queryCache := opts.QueryCache
	if queryCache == nil {
		queryCache = newByteLRU(queryCacheBytes, maxCachedQueryBytes*parsedBytesPerByte,
			func(query string, _ *ast.QueryDocument) int { return parsedBytesPerByte * len(query) })
	}
	srv.SetQueryCache(queryCache)
	persisted := persistedQueries{store: newByteLRU(persistedQueryBytes, maxCachedQueryBytes,
		func(hash, query string) int { return len(hash) + len(query) })}
	srv.Use(persisted.lookup())
	opts.Limits.use(srv, queryCache)
	srv.Use(persisted.registration())
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.AroundFields(refuseIntrospection)
	}
	srv.SetErrorPresenter(recordCodes(ErrorPresenter(log)))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "resolver panicked", "panic", p, "stack", string(debug.Stack()))
		return errors.New("panic in resolver") // presented as "internal error"
	})
	srv.AroundOperations(recordOperation)
	// Loaders cache for one response: a query's or mutation's only one, or one event of a
	// subscription, which would otherwise serve rows cached when it started.
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		return next(withLoaders(ctx, newLoaders(db)))
	})
	if !opts.gqlgenOnly {
		// Inside the loaders: the fast path resolves through them.
		srv.Use(fastPath{es: es, plans: newPlanCache()})
	}

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodPost, http.MethodOptions:
		default:
			// gqlgen answers requests no transport takes with an uncoded "transport not
			// supported" (and HEAD with a bare 405); say what to change instead.
			w.Header().Set("Allow", "GET, POST")
			WriteError(w, r, http.StatusMethodNotAllowed, "Use GET for queries or POST.", CodeMethodNotAllowed)
			return
		}
		ctx, statements := storage.WithStatementCounter(r.Context())
		ctx = context.WithValue(ctx, admissionKey{}, admit)
		srv.ServeHTTP(w, r.WithContext(ctx))
		if info := requestInfo(ctx); info != nil {
			info.AfterRequest(func() { info.Statements = statements.Count() })
		}
	})
}

// WriteError answers a request that never reaches GraphQL execution with one coded error,
// recording the code in the request's RequestInfo.
func WriteError(w http.ResponseWriter, r *http.Request, status int, message, code string) {
	writeErrorAs(w, r, mediaJSON, status, message, code)
}

// RequestInfo carries what the GraphQL layer learns about a request out to the HTTP access
// log, which is written after gqlgen has finished with the request.
type RequestInfo struct {
	Operation  string
	Statements int64 // SQL statements the request ran
	FastPath   bool  // the fast path answered the operation, not gqlgen (fastpath.go)

	mu          sync.Mutex // errors are presented from concurrently resolved fields
	codes       []string
	unavailable bool // an UNAVAILABLE error has been logged
	// A request detached from its handler (see Detach) holds what is to run after it, until
	// it has ended; running serialises those that run apart from it with it.
	detached, ended bool
	after           []func()
	running         sync.Mutex
}

// Detach says that the request of ctx goes on after its handler has returned, in a
// goroutine the handler has started (a stream's), until done is called: what is to run
// after the request (AfterRequest) waits for done. Without a RequestInfo in ctx, nothing
// waits.
func Detach(ctx context.Context) (done func()) {
	info := requestInfo(ctx)
	if info == nil {
		return func() {}
	}
	info.mu.Lock()
	info.detached = true
	info.mu.Unlock()
	return func() {
		info.running.Lock()
		defer info.running.Unlock()
		info.mu.Lock()
		info.ended = true
		after := info.after
		info.after = nil
		info.mu.Unlock()
		for _, f := range after {
			f()
		}
	}
}

// AfterRequest runs f once the request has ended: at once, unless its handler has detached
// it and it has not ended yet, else once it has, in the order AfterRequest was called.
func (i *RequestInfo) AfterRequest(f func()) {
	i.mu.Lock()
	if i.detached && !i.ended {
		i.after = append(i.after, f)
		i.mu.Unlock()
		return
	}
	i.mu.Unlock()
	i.running.Lock()
	defer i.running.Unlock()
	f()
}

type requestInfoKey struct{}

// WithRequestInfo returns a context in which the GraphQL handler records into info.
func WithRequestInfo(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

func recordOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if info := requestInfo(ctx); info != nil {
		oc := graphql.GetOperationContext(ctx)
		info.Operation = oc.OperationName
		if info.Operation == "" && oc.Operation != nil {
			info.Operation = oc.Operation.Name
		}
	}
	return next(ctx)
}
