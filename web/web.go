// Package web is the server's HTTP edge: its routes and the per-request middleware around
// them (request ID, access log, metrics, panic recovery, CORS, timeouts).
package web

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/coder/websocket"

	"github.com/storegraph/storegraph/auth"
	"github.com/storegraph/storegraph/config"
	"github.com/storegraph/storegraph/events"
	"github.com/storegraph/storegraph/graph"
	"github.com/storegraph/storegraph/graph/playground"
	"github.com/storegraph/storegraph/storage"
)

// Deps are what the handler serves from and logs to.
type Deps struct {
	DB  *storage.DB
	Log *slog.Logger // wrapped in LogHandler, so that its lines carry the request's ID
	// Tokens signs and checks access tokens, with the key every process on DB shares.
	Tokens *auth.Tokens
	// Events fans the change log out to subscriptions; it must be running (Hub.Run).
	Events *events.Hub
}

// Handler is the server's HTTP handler. Its WebSockets and SSE streams outlive
// http.Server.Shutdown unless CloseStreams ends them.
type Handler struct {
	http.Handler
	streams *streams
}

// CloseStreams closes every WebSocket with 1001 "server shutting down" and ends every SSE
// stream, so that their clients reconnect elsewhere and resume; it refuses new ones, and
// returns when all have ended. Register it with http.Server.RegisterOnShutdown.
func (h *Handler) CloseStreams() { h.streams.closeAll(shutdownReason) }

// Sign-in state bounds: a revoked session's tokens are refused within sessionCacheTTL on
// every process; the limiters and the cache hold at most this many keys each.
const (
	sessionCacheTTL  = time.Second
	sessionCacheKeys = 100_000
	rateLimitKeys    = 100_000
)

// New is the server's HTTP handler: every endpoint, inside the per-request middleware
// (request ID, access log and metrics, panic recovery). GraphQL is served over HTTP,
// WebSocket (graphql-transport-ws) and server-sent events (graphql-sse).
func New(cfg config.Config, deps Deps) *Handler {
	db, log := deps.DB, deps.Log
	m := newMetrics(db)
	sessions := auth.NewSessionCache(sessionCacheTTL, sessionCacheKeys, sessionLookup(db, time.Now))
	signIn := bearer{tokens: deps.Tokens, sessions: sessions, log: log, now: time.Now}
	streams := newStreams(cfg.Streams.MaxConnections)
	ws, sse := newStreamTransports(cfg, streams, signIn)
	isStream := func(r *http.Request) bool { return ws.Supports(r) || sse.Supports(r) }
	mux := http.NewServeMux()
	mux.Handle("/graphql", withCORS(cfg.CORS, withTimeout(cfg.RequestTimeout, isStream, signIn.wrap(graph.NewHandler(db, log, graph.Options{
		Events:        deps.Events,
		Transports:    []graphql.Transport{ws, sse},
		Introspection: cfg.Introspection,
		MaxBodyBytes:  int64(cfg.Limits.BodyBytes),
		Limits:        cfg.Limits.Document,
		Admission:     cfg.Limits.Admission,
		Accounts: graph.Accounts{
			Hasher:     auth.NewHasher(auth.DefaultParams, cfg.Auth.HashConcurrency),
			Tokens:     deps.Tokens,
			RefreshTTL: cfg.Auth.RefreshTokenTTL,
			ByAddress:  auth.NewLimiter(cfg.Auth.RatePerAddress, cfg.Auth.RatePerAddress, rateLimitKeys),
			ByEmail:    auth.NewLimiter(cfg.Auth.RatePerEmail, cfg.Auth.RatePerEmail, rateLimitKeys),
			Sessions:   sessions,
		},
	})))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		pingCtx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := db.Ping(pingCtx); err != nil {
			log.WarnContext(r.Context(), "database not ready", "error", err.Error())
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", m.handler())
	mux.Handle("GET /schema.graphql", graph.NewSchemaHandler(cfg.Introspection))
	mux.Handle("/", playground.New("/graphql"))
	return &Handler{Handler: middleware(log, m, mux), streams: streams}
}

// newStreamTransports are the WebSocket and SSE transports, sharing the registry of streams.
func newStreamTransports(cfg config.Config, streams *streams, signIn bearer) (*wsTransport, *sseTransport) {
	s := cfg.Streams
	ws := &wsTransport{
		streams: streams, signIn: signIn, log: signIn.log,
		accept: websocket.AcceptOptions{
			Subprotocols: []string{wsSubprotocol},
			// Pages of the origins CORS allows may open sockets too; any other origin's
			// page is refused, as the browser would refuse it an HTTP response.
			OriginPatterns:     cfg.CORS.Origins,
			InsecureSkipVerify: slices.Contains(cfg.CORS.Origins, "*"),
		},
		readLimit:   cmp.Or(int64(cfg.Limits.BodyBytes), -1),
		initTimeout: s.InitTimeout, pingInterval: s.PingInterval, writeTimeout: s.WriteTimeout,
		requestTimeout: cfg.RequestTimeout, maxOperations: s.MaxSubscriptionsPerConnection,
	}
	sse := &sseTransport{
		streams: streams, maxBodyBytes: int64(cfg.Limits.BodyBytes),
		keepAlive: s.PingInterval, writeTimeout: s.WriteTimeout, requestTimeout: cfg.RequestTimeout,
		log: signIn.log,
	}
	return ws, sse
}

// middleware wraps every endpoint in the per-request chain: the request ID outermost, so
// that every line logged carries it; the access log and metrics around panic recovery, so
// that a recovered panic is logged and counted with the status it was answered with.
func middleware(log *slog.Logger, m *metrics, next http.Handler) http.Handler {
	return withRequestID(accessLog(log, m, recoverPanics(log, next)))
}
