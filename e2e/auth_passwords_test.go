package e2e

// Registering and signing in: what an email and a password must be, emails unique
// regardless of letter case (decided by the database, so concurrent registrations make one
// account), and one answer for every failed sign-in.

import (
	"strings"
	"sync"
	"testing"
)

// longPassword is a password of n characters (n bytes).
func longPassword(n int) string {
	return strings.Repeat("p", n)
}

// emailOfBytes is an email address of n bytes (n at least 120), well formed but for its
// length: a local part of 64 bytes, a domain of labels of 50 bytes and fewer.
func emailOfBytes(n int) string {
	local := strings.Repeat("m", 64)
	labels := []byte(strings.Repeat("d", n-len(local)-len("@")-len(".test")))
	for i := 50; i < len(labels)-1; i += 51 {
		labels[i] = '.'
	}
	return local + "@" + string(labels) + ".test"
}

// wantFieldMessages fails t unless r carries exactly one BAD_USER_INPUT error per field of
// want, with that field's message, and no data.
func wantFieldMessages(t testing.TB, r *response, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, e := range r.Errors {
		if e.Extensions.Code != "BAD_USER_INPUT" {
			t.Errorf("error %v, want code BAD_USER_INPUT", e)
		}
		if _, dup := got[e.Extensions.Field]; dup {
			t.Errorf("two errors for field %q: %v", e.Extensions.Field, r.Errors)
		}
		got[e.Extensions.Field] = e.Message
	}
	if len(got) != len(want) {
		t.Errorf("errors %v, want one per field of %v", r.Errors, want)
	}
	for field, message := range want {
		if got[field] != message {
			t.Errorf("field %q: message %q, want %q (errors %v)", field, got[field], message, r.Errors)
		}
	}
	if !r.dataIsNull() {
		t.Errorf("data = %s, want null", r.Data)
	}
}

func TestAuthRegisterValidatesEmailAndPassword(t *testing.T) {
	t.Parallel()
	eachAuthBackend(t, func(t *testing.T, s *server) {
		anon := s.withToken("")
		refused := []struct {
			name, email, password string
			want                  map[string]string
		}{
			{"not an email", "not-an-email", testPassword, map[string]string{"email": badEmailMessage}},
			{"with a display name", "A <a@b.example>", testPassword, map[string]string{"email": badEmailMessage}},
			{"empty email", "", testPassword, map[string]string{"email": badEmailMessage}},
			{"blank email", "   ", testPassword, map[string]string{"email": badEmailMessage}},
			{"no domain", "someone@", testPassword, map[string]string{"email": badEmailMessage}},
			{"two addresses", "a@b.example, c@d.example", testPassword, map[string]string{"email": badEmailMessage}},
			{"email of 255 bytes", emailOfBytes(255), testPassword, map[string]string{"email": badEmailMessage}},
			{"password of 7 characters", "seven@e2e.test", "1234567", map[string]string{"password": tooShortMessage}},
			{"password of 7 characters in 14 bytes", "seven-wide@e2e.test", strings.Repeat("é", 7), map[string]string{"password": tooShortMessage}},
			{"empty password", "empty@e2e.test", "", map[string]string{"password": tooShortMessage}},
			{"password of 257 characters", "long@e2e.test", longPassword(257), map[string]string{"password": tooLongMessage}},
			{"password of 257 two-byte characters", "long-wide@e2e.test", strings.Repeat("é", 257), map[string]string{"password": tooLongMessage}},
			{"both wrong", "not-an-email", "1234567", map[string]string{"email": badEmailMessage, "password": tooShortMessage}},
		}
		for _, tc := range refused {
			t.Run(tc.name, func(t *testing.T) {
				wantFieldMessages(t, tryRegister(t, anon, tc.email, tc.password), tc.want)
				// No account was made.
				wantError(t, tryLogin(t, anon, tc.email, tc.password), "UNAUTHENTICATED", "", badCredentialsMessage)
			})
		}

		accepted := []struct {
			name, email, password, stored string
		}{
			{"password of 8 characters", "eight@e2e.test", "12345678", "eight@e2e.test"},
			{"password of 8 two-byte characters", "eight-wide@e2e.test", strings.Repeat("é", 8), "eight-wide@e2e.test"},
			{"password of 256 characters", "max@e2e.test", longPassword(256), "max@e2e.test"},
			{"password of 256 two-byte characters (512 bytes)", "max-wide@e2e.test", strings.Repeat("é", 256), "max-wide@e2e.test"},
			{"password of spaces and symbols", "spaces@e2e.test", "  \t p@ss w0rd! ✓  ", "spaces@e2e.test"},
			{"email of 254 bytes", emailOfBytes(254), testPassword, emailOfBytes(254)},
			{"email with spaces around it", " \t Trim.Me+tag@Example.COM  ", testPassword, "Trim.Me+tag@Example.COM"},
		}
		for _, tc := range accepted {
			t.Run(tc.name, func(t *testing.T) {
				sess := register(t, anon, tc.email, tc.password)
				if sess.User.Email != tc.stored || sess.User.Role != "USER" {
					t.Errorf("register(%q) user = %+v, want email %q, role USER", tc.email, sess.User, tc.stored)
				}
				if got := me(t, s.withToken(sess.AccessToken)); got == nil || *got != sess.User {
					t.Errorf("me = %+v, want %+v", got, sess.User)
				}
				// The password is kept as given: not trimmed, not normalised.
				if got := login(t, anon, tc.stored, tc.password); got.User.ID != sess.User.ID {
					t.Errorf("login as %q = user %s, want %s", tc.stored, got.User.ID, sess.User.ID)
				}
				if trimmed := strings.TrimSpace(tc.password); trimmed != tc.password {
					wantError(t, tryLogin(t, anon, tc.stored, trimmed), "UNAUTHENTICATED", "", badCredentialsMessage)
				}
			})
		}
	})
}

func TestAuthEmailsAreUniqueRegardlessOfLetterCase(t *testing.T) {
	t.Parallel()
	eachAuthBackend(t, func(t *testing.T, s *server) {
		anon := s.withToken("")
		first := register(t, anon, "Mixed@Example.com", testPassword)
		if first.User.Email != "Mixed@Example.com" {
			t.Errorf("registered email = %q, want it as given", first.User.Email)
		}
		for _, email := range []string{"Mixed@Example.com", "mixed@example.COM", "  MIXED@EXAMPLE.COM  "} {
			r := tryRegister(t, anon, email, "another password 7")
			wantError(t, r, "CONFLICT", "", emailTakenMessage)
			if !r.dataIsNull() {
				t.Errorf("register(%q): data = %s, want null", email, r.Data)
			}
		}
		for _, email := range []string{"Mixed@Example.com", "mixed@example.com", "MIXED@EXAMPLE.COM", "mIxEd@eXaMpLe.CoM"} {
			if got := login(t, anon, email, testPassword); got.User != first.User {
				t.Errorf("login as %q = %+v, want %+v", email, got.User, first.User)
			}
		}
		// The conflicting registrations changed nothing: their password does not sign in.
		wantError(t, tryLogin(t, anon, "mixed@example.com", "another password 7"), "UNAUTHENTICATED", "", badCredentialsMessage)
	})
}

func TestAuthLoginFailuresAllGetTheSameAnswer(t *testing.T) {
	t.Parallel()
	eachAuthBackend(t, func(t *testing.T, s *server) {
		anon := s.withToken("")
		register(t, anon, "known@e2e.test", testPassword)
		for _, tc := range []struct{ name, email, password string }{
			{"unknown email", "unknown@e2e.test", testPassword},
			{"wrong password", "known@e2e.test", "not the password"},
			{"password in another letter case", "known@e2e.test", strings.ToUpper(testPassword)},
			{"password with a space after it", "known@e2e.test", testPassword + " "},
			{"empty password", "known@e2e.test", ""},
			{"not an email", "not-an-email", testPassword},
			{"empty email", "", testPassword},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := tryLogin(t, anon, tc.email, tc.password)
				wantError(t, r, "UNAUTHENTICATED", "", badCredentialsMessage)
				if !r.dataIsNull() {
					t.Errorf("data = %s, want null", r.Data)
				}
			})
		}
		login(t, anon, "known@e2e.test", testPassword)
	})
}

func TestAuthConcurrentRegistrationsOfOneEmailMakeOneAccount(t *testing.T) {
	t.Parallel()
	eachAuthBackend(t, func(t *testing.T, s *server) {
		anon := s.withToken("")
		emails := []string{
			"Rush@E2E.test", "rush@e2e.test", "RUSH@E2E.TEST", " rush@e2e.test ", "rUSH@e2e.TEST",
			"Rush@e2e.test", "rush@E2E.test", "RUSH@e2e.test", "rush@e2e.TEST", "RuSh@E2e.TeSt",
		}
		results := make([]*response, len(emails))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, email := range emails {
			wg.Go(func() {
				<-start
				r, err := anon.Post(t, registerMutation, credentials(email, testPassword))
				if err != nil {
					t.Errorf("register(%q): %v", email, err)
				}
				results[i] = r
			})
		}
		close(start)
		wg.Wait()
		var winner *Session
		for i, r := range results {
			switch {
			case r == nil:
			case len(r.Errors) == 0:
				if winner != nil {
					t.Errorf("register(%q) succeeded too: %s", emails[i], r.Body)
					continue
				}
				sess := sessionOf(t, r, "register")
				winner = &sess
			case len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "CONFLICT" || r.Errors[0].Message != emailTakenMessage:
				t.Errorf("register(%q): errors %v, want success or CONFLICT %q", emails[i], r.Errors, emailTakenMessage)
			}
		}
		if winner == nil {
			t.Fatalf("none of %d concurrent registrations succeeded", len(emails))
		}
		var rows [][]string
		for _, row := range usersList(t, s.DBURL) {
			if strings.EqualFold(row[1], "rush@e2e.test") {
				rows = append(rows, row)
			}
		}
		if len(rows) != 1 || rows[0][0] != winner.User.ID {
			t.Errorf("users list rows for rush@e2e.test: %q, want one, of %s", rows, winner.User.ID)
		}
		if got := login(t, anon, "rush@e2e.test", testPassword); got.User != winner.User {
			t.Errorf("login = %+v, want %+v", got.User, winner.User)
		}
	})
}
