package auth

import "context"

// Principal is who a request acts for, once its access token and session have been checked.
type Principal struct {
	UserID, SessionID int64
	Admin             bool
}

// Distinct unexported types, so that no other package can read or overwrite these values.
type (
	principalKey     struct{}
	clientAddressKey struct{}
)

// WithPrincipal returns a copy of ctx that carries p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal ctx carries; ok is false for an anonymous request.
func PrincipalFrom(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithClientAddress returns a copy of ctx that carries the client's address (rate limits are
// keyed by it).
func WithClientAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddressKey{}, addr)
}

// ClientAddress returns the client address ctx carries, or "" when it carries none.
func ClientAddress(ctx context.Context) string {
	addr, _ := ctx.Value(clientAddressKey{}).(string)
	return addr
}
