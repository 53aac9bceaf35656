package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
)

// requestIDHeader carries a request's ID in both directions.
const requestIDHeader = "X-Request-ID"

// maxRequestIDLength bounds a client's ID: longer ones are replaced, not truncated, so that
// a logged ID is always exactly what one side sent.
const maxRequestIDLength = 128

type requestIDKey struct{}

// withRequestID gives every request an ID, echoed in the response and logged with every line
// the request writes: the client's X-Request-ID when it is a printable ASCII token, so that a
// request can be followed through a proxy or client that set it, or else a random one.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(requestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for i := range len(id) {
		if id[i] < '!' || id[i] > '~' {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// LogHandler wraps h so that every record logged with a request's context carries the
// request's ID (request_id); Deps.Log is expected to write through it.
func LogHandler(h slog.Handler) slog.Handler { return requestIDHandler{h} }

// requestIDHandler adds request_id to every record logged with a request's context, so that
// lines logged deep in the resolvers or storage need not carry it themselves.
type requestIDHandler struct {
	slog.Handler
}

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		rec = rec.Clone() // the caller's record may be shared with other handlers
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
