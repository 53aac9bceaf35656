package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/storegraph/storegraph/auth"
)

var (
	testKey  = []byte("0123456789abcdef0123456789abcdef")
	otherKey = []byte("fedcba9876543210fedcba9876543210")
	issuedAt = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
)

const ttl = 15 * time.Minute

func newTokens(t *testing.T, key []byte) *auth.Tokens {
	t.Helper()
	tokens, err := auth.NewTokens(key, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

func TestIssueThenVerifyReturnsTheClaims(t *testing.T) {
	tokens := newTokens(t, testKey)
	// Sub-second parts of now are dropped: JWT times are whole seconds.
	now := issuedAt.Add(300 * time.Millisecond)
	token, expiresAt, err := tokens.Issue(auth.Claims{UserID: 7, SessionID: 42, Role: "ADMIN", ExpiresAt: now.Add(time.Hour)}, now)
	if err != nil {
		t.Fatal(err)
	}
	wantExpiry := issuedAt.Add(ttl)
	if !expiresAt.Equal(wantExpiry) {
		t.Errorf("Issue's expiresAt = %v, want %v", expiresAt, wantExpiry)
	}
	for _, at := range []time.Time{now, issuedAt.Add(ttl - time.Second)} {
		got, err := tokens.Verify(token, at)
		if err != nil {
			t.Fatalf("Verify at %v: %v", at, err)
		}
		want := auth.Claims{UserID: 7, SessionID: 42, Role: "ADMIN", ExpiresAt: wantExpiry}
		if got != want {
			t.Errorf("Verify at %v = %+v, want %+v", at, got, want)
		}
	}
}

func TestIssueWritesTheSpecifiedClaims(t *testing.T) {
	token, _, err := newTokens(t, testKey).Issue(auth.Claims{UserID: 7, SessionID: 42, Role: "USER"}, issuedAt)
	if err != nil {
		t.Fatal(err)
	}
	var header, payload map[string]any
	parts := strings.Split(token, ".")
	decodePart(t, parts[0], &header)
	decodePart(t, parts[1], &payload)
	if header["alg"] != "HS256" || header["typ"] != "JWT" {
		t.Errorf("header = %v, want alg HS256, typ JWT", header)
	}
	jti, _ := payload["jti"].(string)
	if len(jti) < 16 {
		t.Errorf("jti = %q, want a random id", jti)
	}
	delete(payload, "jti")
	want := map[string]any{
		"iss":  "storegraph",
		"aud":  []any{"storegraph"},
		"sub":  "7",
		"sid":  float64(42),
		"role": "USER",
		"iat":  float64(issuedAt.Unix()),
		"exp":  float64(issuedAt.Add(ttl).Unix()),
	}
	if got, _ := json.Marshal(payload); string(got) != mustJSON(t, want) {
		t.Errorf("payload = %s, want %s", got, mustJSON(t, want))
	}
}

func TestIssueGivesEveryTokenItsOwnID(t *testing.T) {
	tokens := newTokens(t, testKey)
	c := auth.Claims{UserID: 7, SessionID: 42, Role: "USER"}
	a, _, errA := tokens.Issue(c, issuedAt)
	b, _, errB := tokens.Issue(c, issuedAt)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a == b {
		t.Error("two tokens for the same claims at the same time are equal")
	}
}

func TestIssueRefusesClaimsVerifyWouldRefuse(t *testing.T) {
	tokens := newTokens(t, testKey)
	for _, c := range []auth.Claims{
		{UserID: 0, SessionID: 1},
		{UserID: -1, SessionID: 1},
		{UserID: 1, SessionID: 0},
	} {
		if token, _, err := tokens.Issue(c, issuedAt); err == nil {
			t.Errorf("Issue(%+v) = %q, want an error", c, token)
		}
	}
}

func TestVerifyRefusesBadTokens(t *testing.T) {
	tokens := newTokens(t, testKey)
	valid, _, err := tokens.Issue(auth.Claims{UserID: 7, SessionID: 42, Role: "USER"}, issuedAt)
	if err != nil {
		t.Fatal(err)
	}
	registered := jwt.RegisteredClaims{
		Issuer:    auth.Issuer,
		Audience:  jwt.ClaimStrings{auth.Audience},
		Subject:   "7",
		IssuedAt:  jwt.NewNumericDate(issuedAt),
		ExpiresAt: jwt.NewNumericDate(issuedAt.Add(ttl)),
	}
	claims := func(change func(c *testClaims)) *testClaims {
		c := &testClaims{RegisteredClaims: registered, SID: 42, Role: "USER"}
		if change != nil {
			change(c)
		}
		return c
	}
	sign := func(method jwt.SigningMethod, key any, c jwt.Claims) string {
		token, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
	hs256 := func(change func(c *testClaims)) string { return sign(jwt.SigningMethodHS256, testKey, claims(change)) }

	if _, err := tokens.Verify(hs256(nil), issuedAt); err != nil {
		t.Fatalf("the test's own well-formed token is refused: %v", err)
	}

	parts := strings.Split(valid, ".")
	var payload map[string]any
	decodePart(t, parts[1], &payload)
	payload["role"] = "ADMIN"
	promoted := parts[0] + "." + encodePart(t, payload) + "." + parts[2]

	rs256Header := encodePart(t, map[string]any{"alg": "RS256", "typ": "JWT"})
	rs256 := rs256Header + "." + parts[1] + "." + parts[2]

	for _, tc := range []struct {
		name, token string
		now         time.Time
		reason      string
	}{
		{"expired", valid, issuedAt.Add(ttl), "expired"},
		{"long expired", valid, issuedAt.Add(48 * time.Hour), "expired"},
		{"issued in the future", valid, issuedAt.Add(-time.Second), "issued in the future"},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)), issuedAt, "bad signature or algorithm"},
		{"HS384 with the same key", sign(jwt.SigningMethodHS384, testKey, claims(nil)), issuedAt, "bad signature or algorithm"},
		{"HS512 with the same key", sign(jwt.SigningMethodHS512, testKey, claims(nil)), issuedAt, "bad signature or algorithm"},
		{"RS256 header", rs256, issuedAt, "bad signature or algorithm"},
		{"another key", sign(jwt.SigningMethodHS256, otherKey, claims(nil)), issuedAt, "bad signature or algorithm"},
		{"role changed without signing", promoted, issuedAt, "bad signature or algorithm"},
		{"signature removed", parts[0] + "." + parts[1] + ".", issuedAt, "bad signature or algorithm"},
		{"wrong audience", hs256(func(c *testClaims) { c.Audience = jwt.ClaimStrings{"elsewhere"} }), issuedAt, "wrong audience"},
		{"no audience", hs256(func(c *testClaims) { c.Audience = nil }), issuedAt, "a required claim is missing"},
		{"wrong issuer", hs256(func(c *testClaims) { c.Issuer = "elsewhere" }), issuedAt, "wrong issuer"},
		{"no issuer", hs256(func(c *testClaims) { c.Issuer = "" }), issuedAt, "a required claim is missing"},
		{"no exp", hs256(func(c *testClaims) { c.ExpiresAt = nil }), issuedAt, "a required claim is missing"},
		{"not valid yet", hs256(func(c *testClaims) { c.NotBefore = jwt.NewNumericDate(issuedAt.Add(time.Minute)) }), issuedAt, "not valid yet"},
		{"no subject", hs256(func(c *testClaims) { c.Subject = "" }), issuedAt, "subject is not a user id"},
		{"subject not a number", hs256(func(c *testClaims) { c.Subject = "alice" }), issuedAt, "subject is not a user id"},
		{"subject zero", hs256(func(c *testClaims) { c.Subject = "0" }), issuedAt, "subject is not a user id"},
		{"subject negative", hs256(func(c *testClaims) { c.Subject = "-7" }), issuedAt, "subject is not a user id"},
		{"subject with a plus", hs256(func(c *testClaims) { c.Subject = "+7" }), issuedAt, "subject is not a user id"},
		{"subject with a leading zero", hs256(func(c *testClaims) { c.Subject = "07" }), issuedAt, "subject is not a user id"},
		{"subject beyond int64", hs256(func(c *testClaims) { c.Subject = "9223372036854775808" }), issuedAt, "subject is not a user id"},
		{"no session id", hs256(func(c *testClaims) { c.SID = 0 }), issuedAt, "no session id"},
		{"negative session id", hs256(func(c *testClaims) { c.SID = -42 }), issuedAt, "no session id"},
		{"empty", "", issuedAt, "malformed"},
		{"one segment", "x", issuedAt, "malformed"},
		{"three garbage segments", "a.b.c", issuedAt, "malformed"},
		{"four segments", valid + ".x", issuedAt, "malformed"},
		{"payload not JSON", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("{'sub': 7}")) + "." + parts[2], issuedAt, "malformed"},
		{"bearer prefix left on", "Bearer " + valid, issuedAt, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tokens.Verify(tc.token, tc.now)
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Verify = %+v, %v; want ErrInvalidToken", got, err)
			}
			if got != (auth.Claims{}) {
				t.Errorf("Verify's claims = %+v, want none", got)
			}
			if want := "invalid access token: " + tc.reason; err.Error() != want {
				t.Errorf("error = %q, want %q", err, want)
			}
		})
	}
}

func TestNewTokensRefusesWeakSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  []byte
		ttl  time.Duration
	}{
		{"no key", nil, ttl},
		{"31-byte key", testKey[:31], ttl},
		{"zero ttl", testKey, 0},
		{"negative ttl", testKey, -time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokens, err := auth.NewTokens(tc.key, tc.ttl)
			if err == nil {
				t.Fatalf("NewTokens = %v, want an error", tokens)
			}
			if len(tc.key) > 0 && strings.Contains(err.Error(), string(tc.key)) {
				t.Errorf("the error %q quotes the key", err)
			}
		})
	}
	if _, err := auth.NewTokens(testKey, ttl); err != nil {
		t.Errorf("NewTokens(32-byte key) = %v, want no error", err)
	}
}

func TestNewTokensKeepsItsOwnCopyOfTheKey(t *testing.T) {
	key := append([]byte(nil), testKey...)
	tokens := newTokens(t, key)
	token, _, err := tokens.Issue(auth.Claims{UserID: 7, SessionID: 42}, issuedAt)
	if err != nil {
		t.Fatal(err)
	}
	clear(key)
	if _, err := tokens.Verify(token, issuedAt); err != nil {
		t.Errorf("Verify after the caller reused its key buffer: %v", err)
	}
}

func TestNewSigningKeyIsRandomAndLongEnough(t *testing.T) {
	a, errA := auth.NewSigningKey()
	b, errB := auth.NewSigningKey()
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if len(a) != auth.MinKeyBytes || len(b) != auth.MinKeyBytes {
		t.Errorf("key lengths = %d, %d; want %d", len(a), len(b), auth.MinKeyBytes)
	}
	if string(a) == string(b) {
		t.Error("two signing keys are equal")
	}
	if _, err := auth.NewTokens(a, ttl); err != nil {
		t.Errorf("NewTokens(NewSigningKey()) = %v", err)
	}
}

func TestNewRefreshTokenIsRandomAndHashed(t *testing.T) {
	base64url := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	hexSHA256 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	a, hashA, errA := auth.NewRefreshToken()
	b, hashB, errB := auth.NewRefreshToken()
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	for _, tc := range []struct{ token, hash string }{{a, hashA}, {b, hashB}} {
		if !base64url.MatchString(tc.token) {
			t.Errorf("token %q is not 43 characters of base64url", tc.token)
		}
		if raw, err := base64.RawURLEncoding.DecodeString(tc.token); err != nil || len(raw) != 32 {
			t.Errorf("token %q decodes to %d bytes, %v; want 32", tc.token, len(raw), err)
		}
		if !hexSHA256.MatchString(tc.hash) {
			t.Errorf("hash %q is not 64 hex digits", tc.hash)
		}
		if again := auth.HashRefreshToken(tc.token); again != tc.hash {
			t.Errorf("HashRefreshToken(token) = %q, want the hash NewRefreshToken gave, %q", again, tc.hash)
		}
	}
	if a == b || hashA == hashB {
		t.Error("two refresh tokens are equal")
	}
}

func TestHashRefreshTokenIsHexSHA256(t *testing.T) {
	// SHA-256("abc"), from FIPS 180-2.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := auth.HashRefreshToken("abc"); got != want {
		t.Errorf("HashRefreshToken(abc) = %q, want %q", got, want)
	}
}

// testClaims mirrors the payload Tokens writes, so that tests can sign variations of it.
type testClaims struct {
	jwt.RegisteredClaims
	SID  int64  `json:"sid"`
	Role string `json:"role"`
}

func decodePart(t *testing.T, part string, v any) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

func encodePart(t *testing.T, v any) string {
	t.Helper()
	return base64.RawURLEncoding.EncodeToString([]byte(mustJSON(t, v)))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Verify remembers the tokens it has accepted; a remembered token must get the answer that
// verifying it afresh gives, at any time.
func TestVerifyAnswersARememberedTokenAsAFreshCheckWould(t *testing.T) {
	now := issuedAt.Add(300 * time.Millisecond)
	token, _, err := newTokens(t, testKey).Issue(auth.Claims{UserID: 7, SessionID: 42, Role: "USER"}, now)
	if err != nil {
		t.Fatal(err)
	}
	remembering := newTokens(t, testKey)
	if _, err := remembering.Verify(token, now); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"a second before it was issued", issuedAt.Add(-time.Second), false},
		{"as it is issued", issuedAt, true},
		{"a second before it expires", issuedAt.Add(ttl - time.Second), true},
		{"as it expires", issuedAt.Add(ttl), false},
		{"after it expired", issuedAt.Add(ttl + time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, gotErr := remembering.Verify(token, tc.at)
			want, wantErr := newTokens(t, testKey).Verify(token, tc.at)
			if (gotErr == nil) != tc.ok || got != want || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Errorf("remembered: %+v, %v; afresh: %+v, %v; want ok %v", got, gotErr, want, wantErr, tc.ok)
			}
		})
	}
}

func TestVerifyRemembersABoundedNumberOfTokens(t *testing.T) {
	tokens := newTokens(t, testKey)
	_, bound := auth.VerifiedTokens(tokens)
	for i := range bound + 10 {
		token, _, err := tokens.Issue(auth.Claims{UserID: int64(i + 1), SessionID: 1}, issuedAt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tokens.Verify(token, issuedAt); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := auth.VerifiedTokens(tokens); n != bound {
		t.Errorf("after %d tokens verified, %d are remembered, want %d", bound+10, n, bound)
	}
}
