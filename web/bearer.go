package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/storegraph/storegraph/auth"
	"github.com/storegraph/storegraph/graph"
	"github.com/storegraph/storegraph/storage"
)

// bearer authenticates requests that carry `Authorization: Bearer <access token>` and
// puts the signed-in principal, and every request's client address, in the context. A
// request without the header is anonymous; one whose header is present but unusable
// (malformed, expired, wrongly signed, of a revoked session) is answered 401 with
// `WWW-Authenticate: Bearer error="invalid_token"` whatever it asks, so that a client
// knows to refresh instead of being served as anonymous.
type bearer struct {
	tokens   *auth.Tokens
	sessions *auth.SessionCache
	log      *slog.Logger
	now      func() time.Time
}

func (b bearer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := auth.WithClientAddress(r.Context(), clientAddress(r))
		values, present := r.Header["Authorization"]
		if !present {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		p, err := b.principal(ctx, values)
		switch {
		case errors.Is(err, storage.ErrUnavailable):
			// The token may be good: the database could not say. Clients retry rather
			// than throw their tokens away.
			b.log.WarnContext(ctx, "session check failed", "error", err.Error())
			graph.WriteError(w, r, http.StatusServiceUnavailable, "The service is temporarily unavailable; try again shortly.", graph.CodeUnavailable)
			return
		case err != nil:
			// The reason is logged for the operator; the token never is.
			b.log.InfoContext(ctx, "access token refused", "reason", err.Error())
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			graph.WriteError(w, r, http.StatusUnauthorized, graph.InvalidTokenMessage, graph.CodeUnauthenticated)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(ctx, p)))
	})
}

var (
	errNotBearer       = errors.New("not one Bearer credential")
	errSessionInactive = errors.New("session ended")
)

// principal is who the Authorization header's token names, if its session is still live.
// The role is the user's current one, not the token's: a demotion takes effect at once.
func (b bearer) principal(ctx context.Context, values []string) (auth.Principal, error) {
	if len(values) != 1 {
		return auth.Principal{}, errNotBearer
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return auth.Principal{}, errNotBearer
	}
	claims, err := b.tokens.Verify(strings.TrimSpace(token), b.now())
	if err != nil {
		return auth.Principal{}, err
	}
	state, err := b.sessions.Get(ctx, claims.SessionID, b.now())
	switch {
	case err != nil:
		return auth.Principal{}, err
	case !state.Active || state.UserID != claims.UserID:
		return auth.Principal{}, errSessionInactive
	}
	return auth.Principal{UserID: claims.UserID, SessionID: claims.SessionID, Admin: state.Admin}, nil
}

// sessionLookup reads a session's liveness for auth.SessionCache.
func sessionLookup(db *storage.DB, now func() time.Time) func(context.Context, int64) (auth.SessionState, error) {
	return func(ctx context.Context, id int64) (auth.SessionState, error) {
		userID, role, active, err := db.SessionState(ctx, id, now())
		if err != nil {
			return auth.SessionState{}, err
		}
		return auth.SessionState{UserID: userID, Admin: role == storage.RoleAdmin, Active: active}, nil
	}
}

// clientAddress is the address the request came from, for the sign-in rate limits. The
// server does not trust X-Forwarded-For: a client could name any address in it. An IPv6
// client counts by its /64, the block one subscriber is usually given, so that it cannot
// take a fresh address for every attempt.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if addr = addr.Unmap(); addr.Is6() {
		return netip.PrefixFrom(addr, 64).Masked().String()
	}
	return addr.String()
}
