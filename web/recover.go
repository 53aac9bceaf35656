package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/storegraph/storegraph/graph"
)

// recoverPanics catches a panic outside the resolvers (gqlgen's recover func handles those):
// the stack goes to the log and the client gets INTERNAL_SERVER_ERROR, where net/http alone
// would drop the connection without an answer.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// accessLog has usually wrapped w already; its recorder notes the status just as well.
		rec, ok := w.(*responseRecorder)
		if !ok {
			rec = &responseRecorder{ResponseWriter: w}
		}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler { // a deliberate abort, not a bug
				panic(p)
			}
			log.ErrorContext(r.Context(), "handler panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if rec.status != 0 {
				// Part of the answer is out: abort the connection, so that the client
				// sees a broken response rather than a truncated one.
				panic(http.ErrAbortHandler)
			}
			graph.WriteError(w, r, http.StatusInternalServerError, "internal error", graph.CodeInternal)
		}()
		next.ServeHTTP(rec, r)
	})
}
