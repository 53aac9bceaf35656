package web

import (
	"context"
	"net/http"
	"time"
)

// withTimeout ends a request's context after d. Resolvers and storage do all their work,
// database calls included, under that context, so no request outlives d by more than it
// takes to write the answer (UNAVAILABLE for the database work cut short); a client that
// disconnects ends it sooner. A stream (a WebSocket, server-sent events), which exempt
// picks out, lasts as long as its client wants it: its queries and mutations are bounded one
// by one instead.
func withTimeout(d time.Duration, exempt func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
