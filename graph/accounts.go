package graph

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/storegraph/storegraph/auth"
	"github.com/storegraph/storegraph/graph/model"
	"github.com/storegraph/storegraph/storage"
)

// Accounts is what signing in needs besides the database.
type Accounts struct {
	Hasher     *auth.Hasher
	Tokens     *auth.Tokens
	RefreshTTL time.Duration
	// ByAddress and ByEmail limit register and login attempts (and changePassword's, per
	// user) before any password is hashed.
	ByAddress *auth.Limiter
	ByEmail   *auth.Limiter
	// Sessions is the process's cache of session liveness, told at once of what this
	// process revokes.
	Sessions *auth.SessionCache
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

func (a *Accounts) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

var (
	// errSignIn answers an anonymous request for what needs a user.
	errSignIn = &unauthenticatedError{"Sign in to do this."}
	// errBadCredentials is the one answer to an unknown email and to a wrong password.
	errBadCredentials = &unauthenticatedError{"Email or password is incorrect."}
	errSessionEnded   = &unauthenticatedError{"The refresh token is invalid, expired or already used; sign in again."}
	errEmailHidden    = &storage.ForbiddenError{Message: "Only the user and admins can see this."}
	errWrongPassword  = storage.Invalid("currentPassword", "The current password is incorrect.")
)

// unauthenticatedError is presented as UNAUTHENTICATED with its message.
type unauthenticatedError struct{ message string }

func (e *unauthenticatedError) Error() string { return e.message }

// actor is who the request writes as: the signed-in user, or errSignIn.
func actor(ctx context.Context) (storage.Actor, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return storage.Actor{}, errSignIn
	}
	return storage.Actor{UserID: p.UserID, Admin: p.Admin}, nil
}

// limit is one rate limiter and the key an attempt is counted under.
type limit struct {
	l   *auth.Limiter
	key string
}

// allow spends one attempt from each limiter under its key; an empty key is not limited.
// The answer names the longest wait.
func allow(now time.Time, limits ...limit) error {
	var wait time.Duration
	for _, lim := range limits {
		if lim.l == nil || lim.key == "" {
			continue
		}
		if retry, ok := lim.l.Allow(lim.key, now); !ok {
			wait = max(wait, retry)
		}
	}
	if wait > 0 {
		return &auth.RateLimitedError{RetryAfter: wait}
	}
	return nil
}

// register creates an account and its first session.
func (r *Resolver) register(ctx context.Context, in model.RegisterInput) (*model.Session, error) {
	a := &r.Accounts
	now := a.now()
	email, key, emailErr := storage.CleanEmail("email", in.Email)
	if err := storage.JoinValidation(emailErr, passwordProblem("password", in.Password)); err != nil {
		// Refused input costs no hash, but still an attempt from the address.
		if limited := allow(now, limit{a.ByAddress, auth.ClientAddress(ctx)}); limited != nil {
			return nil, limited
		}
		return nil, err
	}
	if err := allow(now, limit{a.ByAddress, auth.ClientAddress(ctx)}, limit{a.ByEmail, key}); err != nil {
		return nil, err
	}
	hash, err := a.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	u, err := r.DB.CreateUser(ctx, email, hash)
	if err != nil {
		return nil, err
	}
	return r.newSession(ctx, u, now)
}

// login signs in with an email and password. An unknown email costs one hash, as a known
// one does, and both mistakes get the same answer.
func (r *Resolver) login(ctx context.Context, in model.LoginInput) (*model.Session, error) {
	a := &r.Accounts
	now := a.now()
	_, key, emailErr := storage.CleanEmail("email", in.Email)
	if err := allow(now, limit{a.ByAddress, auth.ClientAddress(ctx)}, limit{a.ByEmail, key}); err != nil {
		return nil, err
	}
	var u *storage.User
	if emailErr == nil {
		var err error
		u, err = r.DB.GetUserByEmail(ctx, in.Email)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
	}
	if u == nil {
		if err := a.Hasher.VerifyDummy(ctx, in.Password); err != nil {
			return nil, err
		}
		return nil, errBadCredentials
	}
	ok, rehash, err := a.Hasher.Verify(ctx, in.Password, u.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("verify the password of user %d: %w", u.ID, err)
	}
	if !ok {
		return nil, errBadCredentials
	}
	if rehash {
		// The hash parameters have changed since the password was set: now is the only
		// time the password is at hand to hash it anew. Signing in does not depend on it.
		if err := r.rehash(ctx, u.ID, in.Password); err != nil {
			r.Log.WarnContext(ctx, "password rehash failed", "user", u.ID, "error", err.Error())
		}
	}
	return r.newSession(ctx, u, now)
}

func (r *Resolver) rehash(ctx context.Context, userID int64, password string) error {
	hash, err := r.Accounts.Hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	return r.DB.SetPasswordHash(ctx, userID, hash)
}

// refreshSession trades a refresh token for new tokens of the same session.
func (r *Resolver) refreshSession(ctx context.Context, refreshToken string) (*model.Session, error) {
	a := &r.Accounts
	now := a.now()
	token, hash, err := auth.NewRefreshToken()
	if err != nil {
		return nil, err
	}
	expires := now.Add(a.RefreshTTL)
	s, err := r.DB.RotateRefreshToken(ctx, auth.HashRefreshToken(refreshToken), hash, now, expires)
	if errors.Is(err, storage.ErrSessionEnded) {
		r.Log.InfoContext(ctx, "refresh refused", "reason", err.Error())
		return nil, errSessionEnded
	}
	if err != nil {
		return nil, err
	}
	u, err := r.DB.GetUser(ctx, s.UserID)
	if err != nil {
		return nil, err
	}
	return r.sessionFor(u, s, token, now)
}

// logout ends the request's session, or every session of its user.
func (r *Resolver) logout(ctx context.Context, allSessions bool) (bool, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return false, errSignIn
	}
	var err error
	if allSessions {
		err = r.DB.RevokeUserSessions(ctx, p.UserID)
	} else {
		err = r.DB.RevokeSession(ctx, p.SessionID)
	}
	if err != nil {
		return false, err
	}
	r.Accounts.Sessions.Forget(p.SessionID)
	return true, nil
}

// changePassword sets a new password after checking the current one. Every session of the
// user ends, and the one returned replaces the request's.
func (r *Resolver) changePassword(ctx context.Context, in model.ChangePasswordInput) (*model.Session, error) {
	a := &r.Accounts
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil, errSignIn
	}
	now := a.now()
	if err := passwordProblem("newPassword", in.NewPassword); err != nil {
		return nil, err
	}
	u, err := r.DB.GetUser(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	// A stolen access token must not buy unlimited guesses at the password.
	if err := allow(now, limit{a.ByAddress, auth.ClientAddress(ctx)}, limit{a.ByEmail, u.EmailKey}); err != nil {
		return nil, err
	}
	ok, _, err = a.Hasher.Verify(ctx, in.CurrentPassword, u.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("verify the password of user %d: %w", u.ID, err)
	}
	if !ok {
		return nil, errWrongPassword
	}
	hash, err := a.Hasher.Hash(ctx, in.NewPassword)
	if err != nil {
		return nil, err
	}
	token, refreshHash, err := auth.NewRefreshToken()
	if err != nil {
		return nil, err
	}
	s, err := r.DB.ChangePassword(ctx, u.ID, hash, refreshHash, now.Add(a.RefreshTTL))
	if err != nil {
		return nil, err
	}
	a.Sessions.Forget(p.SessionID)
	return r.sessionFor(u, s, token, now)
}

// newSession starts a session for u.
func (r *Resolver) newSession(ctx context.Context, u *storage.User, now time.Time) (*model.Session, error) {
	token, hash, err := auth.NewRefreshToken()
	if err != nil {
		return nil, err
	}
	s, err := r.DB.CreateSession(ctx, u.ID, hash, now.Add(r.Accounts.RefreshTTL))
	if err != nil {
		return nil, err
	}
	return r.sessionFor(u, s, token, now)
}

// sessionFor is what the client gets for session s: a fresh access token and refreshToken.
func (r *Resolver) sessionFor(u *storage.User, s *storage.Session, refreshToken string, now time.Time) (*model.Session, error) {
	access, expires, err := r.Accounts.Tokens.Issue(auth.Claims{UserID: u.ID, SessionID: s.ID, Role: string(u.Role)}, now)
	if err != nil {
		return nil, err
	}
	return &model.Session{AccessToken: access, AccessTokenExpiresAt: expires,
		RefreshToken: refreshToken, RefreshTokenExpiresAt: s.ExpiresAt, User: u}, nil
}

// passwordProblem checks a new password's length under field.
func passwordProblem(field, password string) error {
	if msg := auth.PasswordProblem(password); msg != "" {
		return storage.Invalid(field, msg)
	}
	return nil
}

// email is User.email: the user's own, or any to an admin. The user of a Session is the
// one who just proved to be that user (by password or refresh token), though the request
// carries no access token yet.
func email(ctx context.Context, u *storage.User) (string, error) {
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Parent != nil && fc.Parent.Object == "Session" {
		return u.Email, nil
	}
	p, ok := auth.PrincipalFrom(ctx)
	switch {
	case !ok:
		return "", errSignIn
	case p.UserID != u.ID && !p.Admin:
		return "", errEmailHidden
	}
	return u.Email, nil
}
