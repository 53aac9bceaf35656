package graph

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/auth"
)

// Parameters small enough for tests; fast and other differ only in time cost.
var (
	fastParams  = auth.Params{MemoryKiB: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}
	otherParams = auth.Params{MemoryKiB: 64, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}
)

// post runs one GraphQL request against h and decodes its answer.
func post(t *testing.T, h http.Handler, query string) (data map[string]any, codes []string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, postJSON("", string(body)))
	var resp struct {
		Data   map[string]any `json:"data"`
		Errors []struct {
			Extensions struct{ Code string } `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("%s: %v", rec.Body, err)
	}
	for _, e := range resp.Errors {
		codes = append(codes, e.Extensions.Code)
	}
	return resp.Data, codes
}

const registerAda = `mutation { register(input: {email: "ada@example.com", password: "correct horse"}) { user { id } } }`

// An unknown email and a wrong password are told apart neither by the answer nor by the
// work done: each costs one password hash.
func TestLoginCostsOneHashWhetherOrNotTheEmailIsKnown(t *testing.T) {
	db := newTestDB(t, "sqlite::memory:")
	accounts := testAccounts(t, fastParams)
	h := NewHandler(db, discardLog(), Options{Accounts: accounts})
	if _, codes := post(t, h, registerAda); codes != nil {
		t.Fatalf("register: %v", codes)
	}
	for _, tt := range []struct{ name, email, password string }{
		{"unknown email", "nobody@example.com", "correct horse"},
		{"malformed email", "not an email", "correct horse"},
		{"wrong password", "ada@example.com", "wrong horse"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := accounts.Hasher.Runs()
			_, codes := post(t, h, `mutation { login(input: {email: "`+tt.email+`", password: "`+tt.password+`"}) { accessToken } }`)
			if len(codes) != 1 || codes[0] != CodeUnauthenticated {
				t.Fatalf("codes %v, want [UNAUTHENTICATED]", codes)
			}
			if runs := accounts.Hasher.Runs() - before; runs != 1 {
				t.Fatalf("%d hashes, want 1", runs)
			}
		})
	}
}

// A hash made with other parameters is replaced at the next sign-in, which is the only time
// the password is at hand; the new hash still signs in.
func TestLoginRehashesAPasswordHashedWithOtherParameters(t *testing.T) {
	db := newTestDB(t, "sqlite::memory:")
	old := NewHandler(db, discardLog(), Options{Accounts: testAccounts(t, fastParams)})
	if _, codes := post(t, old, registerAda); codes != nil {
		t.Fatalf("register: %v", codes)
	}
	current := NewHandler(db, discardLog(), Options{Accounts: testAccounts(t, otherParams)})
	login := `mutation { login(input: {email: "ada@example.com", password: "correct horse"}) { user { id } } }`
	for _, want := range []string{"$argon2id$v=19$m=64,t=2,p=1$", "$argon2id$v=19$m=64,t=2,p=1$"} {
		if _, codes := post(t, current, login); codes != nil {
			t.Fatalf("login: %v", codes)
		}
		u, err := db.GetUserByEmail(context.Background(), "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.PasswordHash, want) {
			t.Fatalf("hash after login has params %q, want prefix %q", u.PasswordHash[:30], want)
		}
	}
}

func TestSessionMutationsNeedASignedInUser(t *testing.T) {
	h := NewHandler(newTestDB(t, "sqlite::memory:"), discardLog(), Options{Accounts: testAccounts(t, fastParams)})
	for _, query := range []string{
		`mutation { logout }`,
		`mutation { changePassword(input: {currentPassword: "x", newPassword: "long enough"}) { accessToken } }`,
		`mutation { setUserRole(userId: "gid://storegraph/User/1", role: ADMIN) { id } }`,
		`mutation { createStore(input: {name: "Shop"}) { id } }`,
	} {
		if _, codes := post(t, h, query); len(codes) != 1 || codes[0] != CodeUnauthenticated {
			t.Fatalf("%s: codes %v, want [UNAUTHENTICATED]", query, codes)
		}
	}
	if data, codes := post(t, h, `{ me { id } }`); codes != nil || data["me"] != nil {
		t.Fatalf("anonymous me = %v, %v; want null", data, codes)
	}
}

// Register refuses what it can refuse before it hashes anything.
func TestRegisterRefusesBadInputWithoutHashing(t *testing.T) {
	accounts := testAccounts(t, fastParams)
	h := NewHandler(newTestDB(t, "sqlite::memory:"), discardLog(), Options{Accounts: accounts})
	_, codes := post(t, h, `mutation { register(input: {email: "nope", password: "short"}) { accessToken } }`)
	if strings.Join(codes, ",") != "BAD_USER_INPUT,BAD_USER_INPUT" || accounts.Hasher.Runs() != 0 {
		t.Fatalf("codes %v after %d hashes; want two BAD_USER_INPUT after none", codes, accounts.Hasher.Runs())
	}
}
