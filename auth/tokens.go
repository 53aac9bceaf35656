package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer and Audience are the iss and aud of every access token: a token made for another
// service with the same key is not accepted here.
const (
	Issuer   = "storegraph"
	Audience = "storegraph"
)

// MinKeyBytes is the shortest signing key NewTokens accepts: HS256 is only as strong as its
// key, and RFC 7518 asks for at least the hash's size.
const MinKeyBytes = 32

// ErrInvalidToken is matched by every error Verify returns. The errors name a short reason
// for logs and never include the token.
var ErrInvalidToken = errors.New("invalid access token")

// Claims are what an access token says about its bearer.
type Claims struct {
	UserID, SessionID int64
	Role              string
	ExpiresAt         time.Time
}

// jwtClaims is the token's payload.
type jwtClaims struct {
	jwt.RegisteredClaims
	SID  int64  `json:"sid"`
	Role string `json:"role"`
}

// Tokens issues and verifies access tokens: JWTs signed with HS256.
type Tokens struct {
	key []byte
	ttl time.Duration

	// verified remembers the tokens that passed Verify, at most verifiedTokens of them: a
	// client sends the same token with every request until it expires, and decoding its JSON
	// again cost more than the HMAC. Only the time checks depend on when a token is
	// verified, so an entry keeps the times they compare with, and answers as the full check
	// would at any now.
	mu       sync.Mutex
	verified map[string]verifiedToken
}

// verifiedTokens bounds Tokens.verified: about 400 bytes each, 1.6 MB in all.
const verifiedTokens = 4096

type verifiedToken struct {
	claims   Claims
	issuedAt time.Time
}

// NewTokens returns Tokens that sign with key (at least MinKeyBytes long) and issue tokens
// valid for ttl (positive).
func NewTokens(key []byte, ttl time.Duration) (*Tokens, error) {
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("auth: the signing key has %d bytes; at least %d are needed", len(key), MinKeyBytes)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("auth: the access token lifetime must be positive, not %v", ttl)
	}
	return &Tokens{key: append([]byte(nil), key...), ttl: ttl, verified: make(map[string]verifiedToken)}, nil
}

// Issue returns a token for c, valid from now for the Tokens' ttl, and its expiry (whole
// seconds, as the token states it). c.ExpiresAt is ignored.
func (t *Tokens) Issue(c Claims, now time.Time) (token string, expiresAt time.Time, err error) {
	if c.UserID <= 0 || c.SessionID <= 0 {
		return "", time.Time{}, fmt.Errorf("auth: cannot issue a token for user %d, session %d", c.UserID, c.SessionID)
	}
	exp := jwt.NewNumericDate(now.Add(t.ttl))
	claims := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Audience:  jwt.ClaimStrings{Audience},
			Subject:   strconv.FormatInt(c.UserID, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: exp,
			ID:        base64.RawURLEncoding.EncodeToString(randomBytes(16)),
		},
		SID:  c.SessionID,
		Role: c.Role,
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: signing an access token: %w", err)
	}
	return token, exp.UTC(), nil
}

// Verify returns the claims of token when it is an unexpired HS256 token signed with the
// Tokens' key, for Audience, from Issuer, at now. Any failure matches ErrInvalidToken.
func (t *Tokens) Verify(token string, now time.Time) (Claims, error) {
	t.mu.Lock()
	v, ok := t.verified[token]
	t.mu.Unlock()
	if ok {
		switch {
		case !now.Before(v.claims.ExpiresAt):
			return Claims{}, fmt.Errorf("%w: %s", ErrInvalidToken, tokenProblem(jwt.ErrTokenExpired))
		case now.Before(v.issuedAt):
			return Claims{}, fmt.Errorf("%w: %s", ErrInvalidToken, tokenProblem(jwt.ErrTokenUsedBeforeIssued))
		}
		return v.claims, nil
	}
	claims, issuedAt, err := t.verify(token, now)
	if err != nil {
		return Claims{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.verified) >= verifiedTokens {
		// Any entry will do: each saves one decoding per request of its client.
		for k := range t.verified {
			delete(t.verified, k)
			break
		}
	}
	t.verified[token] = verifiedToken{claims: claims, issuedAt: issuedAt}
	return claims, nil
}

// verify is Verify without the cache; it also returns the token's iat.
func (t *Tokens) verify(token string, now time.Time) (Claims, time.Time, error) {
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	var claims jwtClaims
	_, err := parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return t.key, nil })
	if err != nil {
		return Claims{}, time.Time{}, fmt.Errorf("%w: %s", ErrInvalidToken, tokenProblem(err))
	}
	userID, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || userID <= 0 || strconv.FormatInt(userID, 10) != claims.Subject {
		return Claims{}, time.Time{}, fmt.Errorf("%w: subject is not a user id", ErrInvalidToken)
	}
	if claims.SID <= 0 {
		return Claims{}, time.Time{}, fmt.Errorf("%w: no session id", ErrInvalidToken)
	}
	// WithIssuedAt accepts a token without iat: it is valid from any time.
	var issuedAt time.Time
	if claims.IssuedAt != nil {
		issuedAt = claims.IssuedAt.Time
	}
	return Claims{UserID: userID, SessionID: claims.SID, Role: claims.Role, ExpiresAt: claims.ExpiresAt.UTC()}, issuedAt, nil
}

// tokenProblems name jwt's failures, most telling first. jwt's own messages are not used:
// those of its JSON decoding can quote a character of the token.
var tokenProblems = []struct {
	err    error
	reason string
}{
	{jwt.ErrTokenMalformed, "malformed"},
	{jwt.ErrTokenUnverifiable, "unverifiable"},
	{jwt.ErrTokenSignatureInvalid, "bad signature or algorithm"},
	{jwt.ErrTokenRequiredClaimMissing, "a required claim is missing"},
	{jwt.ErrTokenExpired, "expired"},
	{jwt.ErrTokenUsedBeforeIssued, "issued in the future"},
	{jwt.ErrTokenNotValidYet, "not valid yet"},
	{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
	{jwt.ErrTokenInvalidAudience, "wrong audience"},
}

func tokenProblem(err error) string {
	for _, p := range tokenProblems {
		if errors.Is(err, p.err) {
			return p.reason
		}
	}
	return "invalid claims"
}

// NewSigningKey returns a new random HS256 key of MinKeyBytes bytes. The error is always nil
// (crypto/rand cannot fail since Go 1.24).
func NewSigningKey() ([]byte, error) {
	return randomBytes(MinKeyBytes), nil
}

// NewRefreshToken returns a new opaque refresh token (32 random bytes, unpadded base64url) and
// the hash to store in its place, so that a copy of the database holds no usable token. The
// error is always nil (crypto/rand cannot fail since Go 1.24).
func NewRefreshToken() (token, hash string, err error) {
	token = base64.RawURLEncoding.EncodeToString(randomBytes(32))
	return token, HashRefreshToken(token), nil
}

// HashRefreshToken returns the hex SHA-256 of token. A plain hash is enough: the token has 256
// random bits, so nothing can be guessed from it.
func HashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
