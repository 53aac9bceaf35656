package e2e

// Accounts, sign-in and authorization (issue 9): the helpers of the auth tests. Users
// register and log in through the API; the first admin is made with `storegraph users
// promote`, as an operator would.

import (
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// userType is the type name of users' global IDs.
const userType = "User"

// The messages of the account errors, as the clients see them.
const (
	signInMessage         = "Sign in to do this."
	badCredentialsMessage = "Email or password is incorrect."
	sessionEndedMessage   = "The refresh token is invalid, expired or already used; sign in again."
	invalidTokenMessage   = "The access token is invalid or expired; refresh it or sign in again."
	ownerOnlyMessage      = "Only the store's owner or an admin can change it."
	adminOnlyMessage      = "Only an admin can do this."
	emailHiddenMessage    = "Only the user and admins can see this."
	emailTakenMessage     = "An account with that email already exists."
	badEmailMessage       = "Not a valid email address."
	wrongPasswordMessage  = "The current password is incorrect."
	tooShortMessage       = "Use at least 8 characters."
	tooLongMessage        = "Use at most 256 characters."
)

// revocationDelay is how long a process may still accept a token of a session that has
// ended, or act on a role that has changed: its cache of session states keeps them a second.
const revocationDelay = time.Second

// testPassword is the password of the users the tests register, unless a test needs its own.
const testPassword = "a fine password 9"

// noAuthLimits turns the sign-in rate limits off, for tests that sign in more often than
// a person would.
var noAuthLimits = []string{"AUTH_RATE_PER_ADDRESS=0", "AUTH_RATE_PER_EMAIL=0"}

// startAuthServer is startServer without sign-in rate limits; env comes after, so it may
// set them again.
func startAuthServer(t testing.TB, backend, dbURL string, env ...string) *server {
	t.Helper()
	return startServer(t, backend, dbURL, append(append([]string{}, noAuthLimits...), env...)...)
}

// eachAuthBackend is eachBackend with startAuthServer.
func eachAuthBackend(t *testing.T, fn func(t *testing.T, s *server)) {
	t.Helper()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		fn(t, startAuthServer(t, backend, dbURL))
	})
}

// User is a User as the tests select it (userFields), email included.
type User struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	CreatedAt string `json:"createdAt"`
}

const userFields = `id email role createdAt`

// Session is a Session as the tests select it (sessionFields).
type Session struct {
	AccessToken           string `json:"accessToken"`
	AccessTokenExpiresAt  string `json:"accessTokenExpiresAt"`
	RefreshToken          string `json:"refreshToken"`
	RefreshTokenExpiresAt string `json:"refreshTokenExpiresAt"`
	User                  User   `json:"user"`
}

const sessionFields = `accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt user { ` + userFields + ` }`

const (
	registerMutation       = `mutation($in: RegisterInput!) { register(input: $in) { ` + sessionFields + ` } }`
	loginMutation          = `mutation($in: LoginInput!) { login(input: $in) { ` + sessionFields + ` } }`
	refreshMutation        = `mutation($t: String!) { refreshSession(refreshToken: $t) { ` + sessionFields + ` } }`
	changePasswordMutation = `mutation($in: ChangePasswordInput!) { changePassword(input: $in) { ` + sessionFields + ` } }`
	meQuery                = `{ me { ` + userFields + ` } }`
)

func credentials(email, password string) vars {
	return vars{"in": vars{"email": email, "password": password}}
}

// tryRegister, tryLogin, tryRefresh and tryChangePassword send the mutation through s
// (anonymous or signed in, as s is) and return the response as it is.
func tryRegister(t testing.TB, s *server, email, password string) *response {
	t.Helper()
	return s.Do(t, registerMutation, credentials(email, password))
}

func tryLogin(t testing.TB, s *server, email, password string) *response {
	t.Helper()
	return s.Do(t, loginMutation, credentials(email, password))
}

func tryRefresh(t testing.TB, s *server, refreshToken string) *response {
	t.Helper()
	return s.Do(t, refreshMutation, vars{"t": refreshToken})
}

func tryChangePassword(t testing.TB, s *server, current, next string) *response {
	t.Helper()
	return s.Do(t, changePasswordMutation, vars{"in": vars{"currentPassword": current, "newPassword": next}})
}

// register, login, refresh and changePassword are the try functions that fail t unless the
// mutation succeeds, and return its session.
func register(t testing.TB, s *server, email, password string) Session {
	t.Helper()
	return sessionOf(t, tryRegister(t, s, email, password), "register")
}

func login(t testing.TB, s *server, email, password string) Session {
	t.Helper()
	return sessionOf(t, tryLogin(t, s, email, password), "login")
}

func refresh(t testing.TB, s *server, refreshToken string) Session {
	t.Helper()
	return sessionOf(t, tryRefresh(t, s, refreshToken), "refreshSession")
}

func changePassword(t testing.TB, s *server, current, next string) Session {
	t.Helper()
	return sessionOf(t, tryChangePassword(t, s, current, next), "changePassword")
}

// sessionOf is the Session that r, the answer to mutation, carries; it fails t unless
// there is one with both tokens.
func sessionOf(t testing.TB, r *response, mutation string) Session {
	t.Helper()
	r.mustOK(t)
	var d map[string]Session
	r.decode(t, &d)
	got := d[mutation]
	if got.AccessToken == "" || got.RefreshToken == "" {
		t.Fatalf("%s answered a session without tokens: %s", mutation, r.Body)
	}
	return got
}

// signUp registers email with testPassword and returns s signed in as the new user.
func signUp(t testing.TB, s *server, email string) (*server, Session) {
	t.Helper()
	sess := register(t, s.withToken(""), email, testPassword)
	return s.withToken(sess.AccessToken), sess
}

// me is Query.me as s asks it, nil when it is null.
func me(t testing.TB, s *server) *User {
	t.Helper()
	var d struct{ Me *User }
	s.OK(t, &d, meQuery, nil)
	return d.Me
}

// promote makes the user of email an admin with `storegraph users promote` and waits until
// as, signed in as that user, is one.
func promote(t testing.TB, as *server, email string) {
	t.Helper()
	out, errOut, code := runBinary(t, []string{"DATABASE_URL=" + as.DBURL}, "users", "promote", email)
	if code != 0 {
		t.Fatalf("users promote %s: exit %d, stdout %q, stderr %q", email, code, out, errOut)
	}
	waitForAdmin(t, as)
}

// waitForAdmin waits up to revocationDelay until s's user is an admin, both as me { role }
// says, read from the user's row, and in what the process lets the user do, which follows
// the role through its cache of sessions: setUserRole, for admins only, of the user itself.
func waitForAdmin(t testing.TB, s *server) {
	t.Helper()
	var last *response
	var user *User
	if !eventually(revocationDelay, func() bool {
		if user = me(t, s); user == nil || user.Role != "ADMIN" {
			return false
		}
		last = s.Do(t, setRoleMutation, vars{"u": user.ID, "r": "ADMIN"})
		return len(last.Errors) == 0
	}) {
		t.Fatalf("not an admin within %v: me = %+v, setUserRole of itself: %v", revocationDelay, user, last)
	}
}

// tokenAnswer is what /graphql answered a request with a chosen Authorization header.
type tokenAnswer struct {
	Status int
	Header http.Header
	Body   string
	Errors []gqlError
	Data   json.RawMessage
}

// sendWithAuthorization posts query to s with exactly the given Authorization header
// values: none when authorization is nil.
func sendWithAuthorization(t testing.TB, s *server, authorization []string, query string, variables vars) tokenAnswer {
	t.Helper()
	req, err := s.withToken("").postRequest(query, variables, "")
	if err != nil {
		t.Fatal(err)
	}
	if authorization != nil {
		req.Header["Authorization"] = authorization
	}
	return doTokenRequest(t, s, req)
}

// getWithAuthorization is sendWithAuthorization as GET /graphql?query=….
func getWithAuthorization(t testing.TB, s *server, authorization []string, query string) tokenAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.BaseURL+"/graphql?"+url.Values{"query": {query}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if authorization != nil {
		req.Header["Authorization"] = authorization
	}
	return doTokenRequest(t, s, req)
}

func doTokenRequest(t testing.TB, s *server, req *http.Request) tokenAnswer {
	t.Helper()
	resp, err := s.withToken("").http.Do(req)
	if err != nil {
		t.Fatalf("%s /graphql: %v", req.Method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	a := tokenAnswer{Status: resp.StatusCode, Header: resp.Header, Body: string(raw)}
	var body struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("HTTP %d: body is not a GraphQL response: %q", resp.StatusCode, raw)
	}
	a.Data, a.Errors = body.Data, body.Errors
	return a
}

// isInvalidToken reports whether a is the one answer to a present but unusable bearer token.
func (a tokenAnswer) isInvalidToken() bool {
	return a.Status == http.StatusUnauthorized &&
		slices.Equal(a.Header.Values("WWW-Authenticate"), []string{`Bearer error="invalid_token"`}) &&
		len(a.Errors) == 1 && a.Errors[0].Extensions.Code == "UNAUTHENTICATED" &&
		a.Errors[0].Message == invalidTokenMessage && a.Errors[0].Extensions.Field == "" &&
		(len(a.Data) == 0 || string(a.Data) == "null")
}

func (a tokenAnswer) String() string {
	return "HTTP " + strconv.Itoa(a.Status) + ", WWW-Authenticate " + strconv.Quote(strings.Join(a.Header.Values("WWW-Authenticate"), " | ")) + ", body " + a.Body
}

// wantInvalidToken fails t unless a is the answer to an unusable bearer token.
func wantInvalidToken(t testing.TB, what string, a tokenAnswer) {
	t.Helper()
	if !a.isInvalidToken() {
		t.Errorf("%s: got %v; want HTTP 401, WWW-Authenticate: Bearer error=\"invalid_token\" and one UNAUTHENTICATED error %q", what, a, invalidTokenMessage)
	}
}

// tokenRefused fails t unless, within d, requests with token get the invalid-token answer.
func tokenRefused(t testing.TB, s *server, token string, d time.Duration, what string) {
	t.Helper()
	var last tokenAnswer
	if !eventually(d, func() bool {
		last = sendWithAuthorization(t, s, []string{"Bearer " + token}, meQuery, nil)
		return last.isInvalidToken()
	}) {
		t.Errorf("%s: still not refused %v later: %v", what, d, last)
	}
}

// tokenWorks fails t unless token signs s's requests in as the user with global ID userID.
func tokenWorks(t testing.TB, s *server, token, userID, what string) {
	t.Helper()
	a := sendWithAuthorization(t, s, []string{"Bearer " + token}, meQuery, nil)
	var d struct{ Me *User }
	if a.Status != http.StatusOK || len(a.Errors) != 0 || json.Unmarshal(a.Data, &d) != nil || d.Me == nil || d.Me.ID != userID {
		t.Errorf("%s: me with the token = %v, want user %s", what, a, userID)
	}
}

// openDB opens s's database directly, for what the API cannot do.
func openDB(t testing.TB, s *server) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", s.DBURL
	if path, ok := strings.CutPrefix(s.DBURL, "sqlite:"); ok {
		driver, dsn = "sqlite3", path
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
