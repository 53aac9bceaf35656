package e2e

// The operator's side of accounts: `storegraph users list|promote EMAIL`, a JWT_SECRET too
// short to start with, and browsers' preflight for the Authorization header.

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage/storagetest"
)

// usersList runs `storegraph users list` on dbURL and returns its rows without the header,
// each split into ID, EMAIL, ROLE and CREATED; it fails t unless the header is that.
func usersList(t testing.TB, dbURL string) [][]string {
	t.Helper()
	out, errOut, code := runBinary(t, []string{"DATABASE_URL=" + dbURL}, "users", "list")
	if code != 0 {
		t.Fatalf("users list: exit %d, stderr %q", code, errOut)
	}
	if strings.Contains(out, "$argon2id$") {
		t.Errorf("users list shows password hashes:\n%s", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if header := strings.Fields(lines[0]); !slices.Equal(header, []string{"ID", "EMAIL", "ROLE", "CREATED"}) {
		t.Fatalf("users list header %q, want ID EMAIL ROLE CREATED; output:\n%s", lines[0], out)
	}
	var rows [][]string
	for _, line := range lines[1:] {
		row := strings.Fields(line)
		if len(row) != 4 {
			t.Fatalf("users list line %q has %d fields, want 4", line, len(row))
		}
		rows = append(rows, row)
	}
	return rows
}

func TestAuthUsersCommandsListAndPromote(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		s := startAuthServer(t, backend, dbURL)
		owner := me(t, s)
		member, memberSession := signUp(t, s, "Member@E2E.test")
		_, otherSession := signUp(t, s, "other@e2e.test")
		want := []User{*owner, memberSession.User, otherSession.User}

		check := func(when string, roles ...string) {
			t.Helper()
			rows := usersList(t, dbURL)
			if len(rows) != len(want) {
				t.Fatalf("users list %s: %q, want %d users", when, rows, len(want))
			}
			for i, row := range rows {
				u := want[i]
				if row[0] != u.ID || row[1] != u.Email || row[2] != roles[i] {
					t.Errorf("users list %s, line %d: %q, want %s %s %s", when, i+1, row, u.ID, u.Email, roles[i])
				}
				created, err := time.Parse(time.RFC3339Nano, row[3])
				apiCreated, apiErr := time.Parse(time.RFC3339Nano, u.CreatedAt)
				if err != nil || apiErr != nil || created.Sub(apiCreated).Abs() >= time.Second {
					t.Errorf("users list %s, line %d: CREATED %q, want the time of %s (%v, %v)", when, i+1, row[3], u.CreatedAt, err, apiErr)
				}
			}
		}
		check("before promote", "USER", "USER", "USER")

		out, errOut, code := runBinary(t, []string{"DATABASE_URL=" + dbURL}, "users", "promote", "Member@E2E.test")
		if wantOut := "Member@E2E.test (" + memberSession.User.ID + ") is now ADMIN\n"; code != 0 || out != wantOut {
			t.Errorf("users promote: exit %d, stdout %q, stderr %q; want exit 0, %q", code, out, errOut, wantOut)
		}
		waitForAdmin(t, member)
		check("after promote", "USER", "ADMIN", "USER")

		out, errOut, code = runBinary(t, []string{"DATABASE_URL=" + dbURL}, "users", "promote", "x@y.z")
		if code == 0 || !strings.Contains(errOut, `no user has the email "x@y.z"`) {
			t.Errorf("users promote of an unknown email: exit %d, stdout %q, stderr %q; want non-zero and %q", code, out, errOut, `no user has the email "x@y.z"`)
		}
		for _, args := range [][]string{
			{"users"}, {"users", "list", "extra"}, {"users", "promote"}, {"users", "promote", "a@b.example", "c@d.example"}, {"users", "remove", "a@b.example"},
		} {
			out, errOut, code := runBinary(t, []string{"DATABASE_URL=" + dbURL}, args...)
			if code == 0 || !strings.Contains(errOut, "usage: storegraph users list|promote EMAIL") {
				t.Errorf("storegraph %s: exit %d, stdout %q, stderr %q; want non-zero and the usage line", strings.Join(args, " "), code, out, errOut)
			}
		}
		check("after the failed commands", "USER", "ADMIN", "USER")
	})
}

func TestAuthShortJWTSecretStopsTheServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, secret string }{
		{"31 ASCII bytes", "0123456789abcdef0123456789ABCDE"},
		{"31 bytes in 20 characters", strings.Repeat("é", 11) + "123456789"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := []string{"DATABASE_URL=" + storagetest.NewSQLite(t), "PORT=" + freePort(t), "LOG_LEVEL=debug", "JWT_SECRET=" + tc.secret}
			out, errOut, code := runBinary(t, env)
			const want = "JWT_SECRET must be at least 32 bytes (it has 31)"
			if code == 0 || !strings.Contains(errOut, want) {
				t.Errorf("exit %d, stderr %q; want non-zero and %q", code, errOut, want)
			}
			for _, part := range []string{tc.secret, tc.secret[:16]} {
				if strings.Contains(out+errOut, part) {
					t.Errorf("the output shows the secret (%q): stdout %q, stderr %q", part, out, errOut)
				}
			}
		})
	}
}

func TestAuthCORSPreflightAllowsTheAuthorizationHeader(t *testing.T) {
	t.Parallel()
	const origin = "https://shop.example"
	s := startServer(t, "sqlite", storagetest.NewSQLite(t), "CORS_ORIGINS="+origin)
	req, err := http.NewRequest(http.MethodOptions, s.BaseURL+"/graphql", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	resp, err := s.withToken("").http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var allowed []string
	for _, h := range strings.Split(resp.Header.Get("Access-Control-Allow-Headers"), ",") {
		allowed = append(allowed, strings.ToLower(strings.TrimSpace(h)))
	}
	if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") != origin || !slices.Contains(allowed, "authorization") {
		t.Errorf("preflight: HTTP %d, Access-Control-Allow-Origin %q, Access-Control-Allow-Headers %q; want 2xx, %q and Authorization among the headers",
			resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Headers"), origin)
	}

	// The page may then read the answers, the signed-in one and the 401 alike.
	for _, tc := range []struct {
		name          string
		authorization string
		status        int
	}{
		{"valid token", "Bearer " + s.token, http.StatusOK},
		{"bad token", "Bearer not-a-token", http.StatusUnauthorized},
	} {
		req, err := s.withToken("").postRequest(meQuery, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Authorization", tc.authorization)
		resp, err := s.withToken("").http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("%s, cross-origin POST: HTTP %d, Access-Control-Allow-Origin %q; want %d, %q", tc.name, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), tc.status, origin)
		}
	}
}
