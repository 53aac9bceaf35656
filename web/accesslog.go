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
		// A stream's request ends with the stream, which may outlive the handler: what the
		// line needs is taken now, so that the request and its response are not kept alive
		// with every open connection.
		ctx, method, path, status := r.Context(), r.Method, r.URL.Path, rec.Status()
		info.AfterRequest(func() {
			elapsed := time.Since(start)
			log.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String("method", method),
				slog.String("path", path),
				slog.String("operation", truncateOperation(info.Operation)),
				slog.Int64("statements", info.Statements),
				slog.Bool("fast_path", info.FastPath),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			)
			if path == "/graphql" {
				m.observe(&info, status, elapsed)
			}
		})
	})
}
