package web

import (
	"context"
	"net/http"
	"time"
)

// withTimeout ends a request's context after d. Resolvers and storage do all their work,
// database calls included, under that context, so no request outlives d by more than it
// takes to write the answer (UNAVAILABLE for the database work cut short); a client that
// disconnects ends it sooner.
func withTimeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
