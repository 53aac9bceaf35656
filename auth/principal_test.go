package auth_test

import (
	"context"
	"testing"

	"github.com/storegraph/storegraph/auth"
)

func TestPrincipalRoundTripsThroughTheContext(t *testing.T) {
	ctx := context.Background()
	if p, ok := auth.PrincipalFrom(ctx); ok {
		t.Errorf("PrincipalFrom(empty context) = %+v, true; want false", p)
	}
	want := auth.Principal{UserID: 7, SessionID: 42, Admin: true}
	got, ok := auth.PrincipalFrom(auth.WithPrincipal(ctx, want))
	if !ok || got != want {
		t.Errorf("PrincipalFrom = %+v, %v; want %+v, true", got, ok, want)
	}
}

func TestClientAddressRoundTripsThroughTheContext(t *testing.T) {
	ctx := context.Background()
	if got := auth.ClientAddress(ctx); got != "" {
		t.Errorf("ClientAddress(empty context) = %q, want \"\"", got)
	}
	if got := auth.ClientAddress(auth.WithClientAddress(ctx, "192.0.2.1")); got != "192.0.2.1" {
		t.Errorf("ClientAddress = %q, want 192.0.2.1", got)
	}
}

func TestContextValuesDoNotCollideWithOtherPackagesKeys(t *testing.T) {
	// Another package using the same underlying types as keys must not see or replace them.
	type principalKey struct{}
	type clientAddressKey struct{}
	ctx := auth.WithClientAddress(auth.WithPrincipal(context.Background(), auth.Principal{UserID: 7, SessionID: 42}), "192.0.2.1")
	ctx = context.WithValue(ctx, principalKey{}, auth.Principal{UserID: 1, SessionID: 1, Admin: true})
	ctx = context.WithValue(ctx, clientAddressKey{}, "203.0.113.9")
	if p, _ := auth.PrincipalFrom(ctx); p != (auth.Principal{UserID: 7, SessionID: 42}) {
		t.Errorf("PrincipalFrom = %+v, want user 7, session 42", p)
	}
	if got := auth.ClientAddress(ctx); got != "192.0.2.1" {
		t.Errorf("ClientAddress = %q, want 192.0.2.1", got)
	}
}
