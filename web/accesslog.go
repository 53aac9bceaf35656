package web

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/storegraph/storegraph/graph"
)

// accessLog writes one line per request, once it has ended: method, path, GraphQL operation,
// status, duration; GraphQL requests are also counted in the metrics.
func accessLog(log *slog.Logger, m *metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &responseRecorder{ResponseWriter: w}
		var info graph.RequestInfo
		next.ServeHTTP(rec, r.WithContext(graph.WithRequestInfo(r.Context(), &info)))
		// A stream's request ends with the stream, which may outlive the handler.
		info.AfterRequest(func() {
			elapsed := time.Since(start)
			log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("operation", truncateOperation(info.Operation)),
				slog.Int64("statements", info.Statements),
				slog.Int("status", rec.Status()),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			)
			if r.URL.Path == "/graphql" {
				m.observe(&info, rec.Status(), elapsed)
			}
		})
	})
}
