package e2e

// Sessions: refresh tokens work once (a second use ends the session), logout and a
// password change end sessions, and every process on a database, restarted or not, agrees.

import (
	"sync"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage/storagetest"
)

func TestAuthRefreshSessionRotatesAndAReusedRefreshTokenEndsTheSession(t *testing.T) {
	t.Parallel()
	eachAuthBackend(t, func(t *testing.T, s *server) {
		anon := s.withToken("")
		_, first := signUp(t, s, "rotating@e2e.test")
		second := refresh(t, anon, first.RefreshToken)
		if second.AccessToken == first.AccessToken || second.RefreshToken == first.RefreshToken {
			t.Errorf("refreshSession answered a token it had answered before: %+v then %+v", first, second)
		}
		if second.User != first.User {
			t.Errorf("refreshSession's user = %+v, want %+v", second.User, first.User)
		}
		tokenWorks(t, s, second.AccessToken, first.User.ID, "the refreshed access token")
		third := refresh(t, anon, second.RefreshToken)
		tokenWorks(t, s, third.AccessToken, first.User.ID, "the access token of the second refresh")

		for name, token := range map[string]string{"unknown": "bm90IGEgcmVmcmVzaCB0b2tlbiBhdCBhbGwgYnV0IGxvbmc", "empty": ""} {
			r := tryRefresh(t, anon, token)
			wantError(t, r, "UNAUTHENTICATED", "", sessionEndedMessage)
			if !r.dataIsNull() {
				t.Errorf("%s refresh token: data = %s, want null", name, r.Data)
			}
		}
		tokenWorks(t, s, third.AccessToken, first.User.ID, "the newest access token, after unknown refresh tokens")

		// The first refresh token again: taken for stolen, it ends the whole session.
		wantError(t, tryRefresh(t, anon, first.RefreshToken), "UNAUTHENTICATED", "", sessionEndedMessage)
		tokenRefused(t, s, third.AccessToken, revocationDelay, "the newest access token after the reuse")
		wantError(t, tryRefresh(t, anon, third.RefreshToken), "UNAUTHENTICATED", "", sessionEndedMessage)

		// The user's other sessions and the account itself are untouched.
		again := login(t, anon, "rotating@e2e.test", testPassword)
		tokenWorks(t, s, again.AccessToken, first.User.ID, "a new sign-in after the reuse")
	})
}

func TestAuthConcurrentRefreshesOfOneTokenHaveOneWinnerAndEndTheSession(t *testing.T) {
	t.Parallel()
	eachAuthBackend(t, func(t *testing.T, s *server) {
		anon := s.withToken("")
		_, sess := signUp(t, s, "racing@e2e.test")
		const n = 8
		results := make([]*response, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				r, err := anon.Post(t, refreshMutation, vars{"t": sess.RefreshToken})
				if err != nil {
					t.Errorf("refresh %d: %v", i, err)
				}
				results[i] = r
			})
		}
		close(start)
		wg.Wait()
		var winners []Session
		for i, r := range results {
			switch {
			case r == nil:
			case len(r.Errors) == 0:
				winners = append(winners, sessionOf(t, r, "refreshSession"))
			case len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "UNAUTHENTICATED" || r.Errors[0].Message != sessionEndedMessage:
				t.Errorf("refresh %d: errors %v, want success or UNAUTHENTICATED %q", i, r.Errors, sessionEndedMessage)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("%d of %d concurrent refreshes of one token succeeded, want exactly 1", len(winners), n)
		}
		// The losers reused the token: the winner's session is over too.
		tokenRefused(t, s, winners[0].AccessToken, revocationDelay, "the winner's access token")
		wantError(t, tryRefresh(t, anon, winners[0].RefreshToken), "UNAUTHENTICATED", "", sessionEndedMessage)
	})
}

func TestAuthLogoutEndsThisSessionOrAllOfThem(t *testing.T) {
	t.Parallel()
	eachAuthBackend(t, func(t *testing.T, s *server) {
		anon := s.withToken("")
		_, laptop := signUp(t, s, "leaving@e2e.test")
		phone := login(t, anon, "leaving@e2e.test", testPassword)
		_, bystander := signUp(t, s, "staying@e2e.test")

		var out struct{ Logout bool }
		s.withToken(laptop.AccessToken).OK(t, &out, `mutation { logout }`, nil)
		if !out.Logout {
			t.Errorf("logout = false, want true")
		}
		tokenRefused(t, s, laptop.AccessToken, revocationDelay, "the logged-out session's access token")
		wantError(t, tryRefresh(t, anon, laptop.RefreshToken), "UNAUTHENTICATED", "", sessionEndedMessage)
		tokenWorks(t, s, phone.AccessToken, laptop.User.ID, "the user's other session")

		tablet := login(t, anon, "leaving@e2e.test", testPassword)
		phone = refresh(t, anon, phone.RefreshToken)
		s.withToken(phone.AccessToken).OK(t, &out, `mutation { logout(allSessions: true) }`, nil)
		if !out.Logout {
			t.Errorf("logout(allSessions: true) = false, want true")
		}
		for name, sess := range map[string]Session{"phone": phone, "tablet": tablet} {
			tokenRefused(t, s, sess.AccessToken, revocationDelay, name+"'s access token after logging out everywhere")
			wantError(t, tryRefresh(t, anon, sess.RefreshToken), "UNAUTHENTICATED", "", sessionEndedMessage)
		}
		tokenWorks(t, s, bystander.AccessToken, bystander.User.ID, "another user's session")
		tokenWorks(t, s, s.token, me(t, s).ID, "the default user's session")

		// Signing in again works: logout ends sessions, not the account.
		back := login(t, anon, "leaving@e2e.test", testPassword)
		tokenWorks(t, s, back.AccessToken, laptop.User.ID, "a sign-in after logging out everywhere")
	})
}

func TestAuthChangePasswordChecksTheCurrentOneAndEndsEveryEarlierSession(t *testing.T) {
	t.Parallel()
	eachAuthBackend(t, func(t *testing.T, s *server) {
		const email, oldPassword, newPassword = "changing@e2e.test", "the old password 1", "the new password 2"
		anon := s.withToken("")
		first := register(t, anon, email, oldPassword)
		second := login(t, anon, email, oldPassword)
		as := s.withToken(first.AccessToken)

		for _, tc := range []struct {
			name, current, next, field, message string
		}{
			{"wrong current password", "not the old password", newPassword, "currentPassword", wrongPasswordMessage},
			{"short new password", oldPassword, "1234567", "newPassword", tooShortMessage},
			{"long new password", oldPassword, longPassword(257), "newPassword", tooLongMessage},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := tryChangePassword(t, as, tc.current, tc.next)
				wantError(t, r, "BAD_USER_INPUT", tc.field, tc.message)
				if !r.dataIsNull() {
					t.Errorf("data = %s, want null", r.Data)
				}
			})
		}
		// Nothing changed: the old password works, the new one does not, sessions live on.
		third := login(t, anon, email, oldPassword)
		wantError(t, tryLogin(t, anon, email, newPassword), "UNAUTHENTICATED", "", badCredentialsMessage)
		for name, sess := range map[string]Session{"first": first, "second": second, "third": third} {
			tokenWorks(t, s, sess.AccessToken, first.User.ID, name+" session after the refused changes")
		}

		changed := changePassword(t, as, oldPassword, newPassword)
		if changed.User != first.User {
			t.Errorf("changePassword's user = %+v, want %+v", changed.User, first.User)
		}
		wantError(t, tryLogin(t, anon, email, oldPassword), "UNAUTHENTICATED", "", badCredentialsMessage)
		login(t, anon, email, newPassword)
		for name, sess := range map[string]Session{"first (the request's own)": first, "second": second, "third": third} {
			tokenRefused(t, s, sess.AccessToken, revocationDelay, name+" session's access token after the change")
			wantError(t, tryRefresh(t, anon, sess.RefreshToken), "UNAUTHENTICATED", "", sessionEndedMessage)
		}
		tokenWorks(t, s, changed.AccessToken, first.User.ID, "the session changePassword returned")
		next := refresh(t, anon, changed.RefreshToken)
		tokenWorks(t, s, next.AccessToken, first.User.ID, "the refreshed session of changePassword")
	})
}

func TestAuthSessionsAreSharedByTheProcessesOfOneDatabase(t *testing.T) {
	t.Parallel()
	// Two processes on one Postgres database, neither with JWT_SECRET: the signing key is
	// the one in the database, and so is every session.
	dbURL := storagetest.NewPostgres(t)
	a := startAuthServer(t, "postgres", dbURL, "JWT_SECRET=")
	b := startAuthServer(t, "postgres", dbURL, "JWT_SECRET=")
	const crossProcess = 3 * time.Second

	_, sess := signUp(t, a, "roaming@e2e.test")
	tokenWorks(t, b, sess.AccessToken, sess.User.ID, "A's token on B")
	tokenWorks(t, a, b.token, me(t, b).ID, "B's default sign-in on A")

	// A refresh on B rotates the token A handed out; reusing the old one on A ends the
	// session on both.
	fromB := refresh(t, b.withToken(""), sess.RefreshToken)
	tokenWorks(t, a, fromB.AccessToken, sess.User.ID, "B's refreshed token on A")
	wantError(t, tryRefresh(t, a.withToken(""), sess.RefreshToken), "UNAUTHENTICATED", "", sessionEndedMessage)
	tokenRefused(t, a, fromB.AccessToken, revocationDelay, "B's refreshed token on A after the reuse on A")
	tokenRefused(t, b, fromB.AccessToken, crossProcess, "B's refreshed token on B after the reuse on A")

	// Logout on A: B refuses the token within the cache's second (plus the request's time).
	again := login(t, b.withToken(""), "roaming@e2e.test", testPassword)
	tokenWorks(t, a, again.AccessToken, sess.User.ID, "a sign-in on B, on A")
	tokenWorks(t, b, again.AccessToken, sess.User.ID, "a sign-in on B, on B")
	var out struct{ Logout bool }
	a.withToken(again.AccessToken).OK(t, &out, `mutation { logout }`, nil)
	tokenRefused(t, a, again.AccessToken, revocationDelay, "the logged-out token on A")
	tokenRefused(t, b, again.AccessToken, crossProcess, "the token logged out on A, on B")
}

func TestAuthRestartKeepsSessions(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		first := startAuthServer(t, backend, dbURL, "JWT_SECRET=")
		_, sess := signUp(t, first, "patient@e2e.test")
		defaultToken := first.token
		first.Stop(t)

		second := startAuthServer(t, backend, dbURL, "JWT_SECRET=")
		tokenWorks(t, second, sess.AccessToken, sess.User.ID, "an access token from before the restart")
		tokenWorks(t, second, defaultToken, me(t, second).ID, "the default user's token from before the restart")
		next := refresh(t, second.withToken(""), sess.RefreshToken)
		tokenWorks(t, second, next.AccessToken, sess.User.ID, "a refresh token from before the restart, refreshed after it")
	})
}
