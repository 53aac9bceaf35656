package e2e

// Access tokens: JWTs signed with HS256 under JWT_SECRET (or the key kept in the
// database). A request whose Authorization header is present but unusable is refused with
// 401 whatever it asks, so that a client knows to refresh rather than be served as
// anonymous.

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testJWTSecret is the JWT_SECRET of the token tests: exactly the 32 bytes required.
const testJWTSecret = "0123456789abcdef0123456789ABCDEF"

// tokenClaims are the claims of token, whose signature it checks with key (HS256 only).
func tokenClaims(t testing.TB, token string, key []byte) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithJSONNumber()).
		ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return key, nil })
	if err != nil {
		t.Fatalf("the access token does not verify with the key: %v", err)
	}
	return claims
}

// mint signs claims with key by method; jwt.SigningMethodNone needs
// jwt.UnsafeAllowNoneSignatureType as key.
func mint(t testing.TB, method jwt.SigningMethod, claims jwt.MapClaims, key any) string {
	t.Helper()
	token, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("mint a token: %v", err)
	}
	return token
}

// withClaims is a copy of claims with changes; a nil value removes the claim.
func withClaims(claims jwt.MapClaims, changes map[string]any) jwt.MapClaims {
	c := maps.Clone(claims)
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// withPayload is token with its payload replaced by claims and its signature kept.
func withPayload(t testing.TB, token string, claims jwt.MapClaims) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("the access token has %d parts, want 3", len(parts))
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
}

func TestAuthAccessTokenCarriesTheDocumentedClaims(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		s := startAuthServer(t, backend, dbURL, "JWT_SECRET="+testJWTSecret)
		key := []byte(testJWTSecret)
		start := time.Now()
		_, sess := signUp(t, s, "claims@e2e.test")
		end := time.Now()

		claims := tokenClaims(t, sess.AccessToken, key)
		names := slices.Sorted(maps.Keys(claims))
		if want := []string{"aud", "exp", "iat", "iss", "jti", "role", "sid", "sub"}; !slices.Equal(names, want) {
			t.Errorf("claims %q, want %q", names, want)
		}
		userRow := rowID(t, userType, sess.User.ID)
		for name, want := range map[string]any{"iss": "storegraph", "sub": strconv.FormatInt(userRow, 10), "role": "USER"} {
			if claims[name] != want {
				t.Errorf("claim %s = %#v, want %#v", name, claims[name], want)
			}
		}
		if aud, ok := claims["aud"].([]any); !ok || len(aud) != 1 || aud[0] != "storegraph" {
			t.Errorf(`claim aud = %#v, want ["storegraph"]`, claims["aud"])
		}
		if jti, ok := claims["jti"].(string); !ok || jti == "" {
			t.Errorf("claim jti = %#v, want a non-empty string", claims["jti"])
		}
		number := func(name string) int64 {
			n, ok := claims[name].(json.Number)
			v, err := n.Int64()
			if !ok || err != nil {
				t.Fatalf("claim %s = %#v, want a whole number", name, claims[name])
			}
			return v
		}
		iat, exp, sid := number("iat"), number("exp"), number("sid")
		if iat < start.Unix() || iat > end.Unix() {
			t.Errorf("claim iat = %d, want the time of sign-in, %d to %d", iat, start.Unix(), end.Unix())
		}
		if exp-iat != int64((15 * time.Minute).Seconds()) {
			t.Errorf("claim exp - iat = %ds, want ACCESS_TOKEN_TTL's default of 900s", exp-iat)
		}
		if at, err := time.Parse(time.RFC3339Nano, sess.AccessTokenExpiresAt); err != nil || at.Unix() != exp {
			t.Errorf("accessTokenExpiresAt %q, want the time of claim exp, %d (%v)", sess.AccessTokenExpiresAt, exp, err)
		}
		if at, err := time.Parse(time.RFC3339Nano, sess.RefreshTokenExpiresAt); err != nil ||
			at.Before(start.Add(720*time.Hour-time.Second)) || at.After(end.Add(720*time.Hour+time.Second)) {
			t.Errorf("refreshTokenExpiresAt %q, want 720h (REFRESH_TOKEN_TTL's default) after sign-in (%v)", sess.RefreshTokenExpiresAt, err)
		}
		var owner int64
		if err := openDB(t, s).QueryRow("SELECT user_id FROM sessions WHERE id = " + strconv.FormatInt(sid, 10)).Scan(&owner); err != nil || owner != userRow {
			t.Errorf("session %d (claim sid) belongs to user %d (%v), want %d", sid, owner, err, userRow)
		}
		// The refresh token is opaque: 32 random bytes, base64url without padding.
		if raw, err := base64.RawURLEncoding.DecodeString(sess.RefreshToken); err != nil || len(raw) != 32 {
			t.Errorf("refresh token %d characters, decodes to %d bytes (%v); want 32 bytes in base64url", len(sess.RefreshToken), len(raw), err)
		}

		// Another sign-in of the same user: another session, another jti.
		again := login(t, s.withToken(""), "claims@e2e.test", testPassword)
		claims2 := tokenClaims(t, again.AccessToken, key)
		if claims2["jti"] == claims["jti"] || claims2["sid"] == claims["sid"] {
			t.Errorf("two sign-ins share jti %v or sid %v", claims["jti"], claims["sid"])
		}

		// The test mints tokens as the server does: one for the live session, expiring
		// later, works.
		minted := mint(t, jwt.SigningMethodHS256, withClaims(claims, map[string]any{
			"exp": time.Now().Add(time.Hour).Unix(), "jti": "minted-by-the-test",
		}), key)
		tokenWorks(t, s, minted, sess.User.ID, "a token minted for the live session")
	})
}

func TestAuthBadAccessTokenIsRefusedWith401WhateverTheOperation(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		s := startAuthServer(t, backend, dbURL, "JWT_SECRET="+testJWTSecret)
		key := []byte(testJWTSecret)
		_, sess := signUp(t, s, "holder@e2e.test")
		_, otherSess := signUp(t, s, "bystander@e2e.test")
		good := sess.AccessToken
		tokenWorks(t, s, good, sess.User.ID, "the token as issued")
		claims := tokenClaims(t, good, key)
		now := time.Now()
		hs256 := func(changes map[string]any) string {
			return "Bearer " + mint(t, jwt.SigningMethodHS256, withClaims(claims, changes), key)
		}
		// The valid claims re-minted, to be sure each case fails for its one change only.
		tokenWorks(t, s, strings.TrimPrefix(hs256(nil), "Bearer "), sess.User.ID, "the claims re-minted")

		cases := []struct {
			name          string
			authorization []string
		}{
			{"alg none", []string{"Bearer " + mint(t, jwt.SigningMethodNone, claims, jwt.UnsafeAllowNoneSignatureType)}},
			{"signed with another key", []string{"Bearer " + mint(t, jwt.SigningMethodHS256, claims, []byte("another key, also 32 bytes long!"))}},
			{"role raised to ADMIN, signature kept", []string{"Bearer " + withPayload(t, good, withClaims(claims, map[string]any{"role": "ADMIN"}))}},
			{"exp extended, signature kept", []string{"Bearer " + withPayload(t, good, withClaims(claims, map[string]any{"exp": now.Add(24 * time.Hour).Unix()}))}},
			{"expired", []string{hs256(map[string]any{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-time.Minute).Unix()})}},
			{"no exp", []string{hs256(map[string]any{"exp": nil})}},
			{"issued in the future", []string{hs256(map[string]any{"iat": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()})}},
			{"wrong audience", []string{hs256(map[string]any{"aud": []string{"someone-else"}})}},
			{"no audience", []string{hs256(map[string]any{"aud": nil})}},
			{"wrong issuer", []string{hs256(map[string]any{"iss": "someone-else"})}},
			{"no issuer", []string{hs256(map[string]any{"iss": nil})}},
			{"unknown session", []string{hs256(map[string]any{"sid": 987654321})}},
			{"another user's id on this session", []string{hs256(map[string]any{"sub": strconv.FormatInt(rowID(t, userType, otherSess.User.ID), 10)})}},
			{"HS512 with the right key", []string{"Bearer " + mint(t, jwt.SigningMethodHS512, claims, key)}},
			{"Bearer without a token", []string{"Bearer"}},
			{"Bearer and a space", []string{"Bearer "}},
			{"Basic credentials", []string{"Basic eHl6OnNlY3JldA=="}},
			{"the token without a scheme", []string{good}},
			{"two Authorization headers", []string{"Bearer " + good, "Bearer " + good}},
			{"garbage", []string{"Bearer not-a-token"}},
			{"three dots of garbage", []string{"Bearer a.b.c"}},
			{"empty header", []string{""}},
		}
		operations := []struct {
			name, query string
			vars        vars
		}{
			{"public query", `{ stores(first: 1) { totalCount } }`, nil},
			{"me", meQuery, nil},
			{"introspection", `{ __typename }`, nil},
			{"createStore", `mutation { createStore(input: {name: "Made With A Bad Token"}) { id } }`, nil},
			{"register", registerMutation, credentials("newcomer@e2e.test", testPassword)},
			{"login", loginMutation, credentials("holder@e2e.test", testPassword)},
			{"refreshSession", refreshMutation, vars{"t": sess.RefreshToken}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				for _, op := range operations {
					wantInvalidToken(t, "POST "+op.name, sendWithAuthorization(t, s, tc.authorization, op.query, op.vars))
				}
				wantInvalidToken(t, "GET public query", getWithAuthorization(t, s, tc.authorization, `{ stores(first: 1) { totalCount } }`))
			})
		}

		// Nothing the refused requests asked for happened: no store, no account, and the
		// refresh token has not been used.
		anon := s.withToken("")
		if c := listStores(t, anon, nil); c.TotalCount != 0 {
			t.Errorf("stores after the refused requests: %v, want none", storeIDs(c.Nodes))
		}
		wantError(t, tryLogin(t, anon, "newcomer@e2e.test", testPassword), "UNAUTHENTICATED", "", badCredentialsMessage)
		next := refresh(t, anon, sess.RefreshToken)
		tokenWorks(t, s, next.AccessToken, sess.User.ID, "the refreshed token")
		tokenWorks(t, s, good, sess.User.ID, "the token as issued, after all that")
	})
}
