package e2e

// Passwords, their hashes and tokens never show: not in a log line (even at debug level,
// where every SQL statement is logged), not in an error message, not in any answer but the
// Session that hands a token out; and the database keeps hashes, not passwords or refresh
// tokens.

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// secretsJWTSecret is the JWT_SECRET of the secrets test: it must not show either.
const secretsJWTSecret = "secrets-test-jwt-key-0123456789-abcdef"

func TestAuthSecretsNeverReachTheLogsOrOtherAnswers(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		s := startServerWith(t, backend, dbURL, serverOptions{anonymous: true,
			env: append([]string{"LOG_LEVEL=debug", "JWT_SECRET=" + secretsJWTSecret}, noAuthLimits...)})
		const (
			email         = "secretive@e2e.test"
			firstPassword = "first-secret-Pw-1"
			nextPassword  = "second-secret-Pw-2"
			wrongGuess    = "wrong-guess-Pw-3"
			strangerGuess = "stranger-guess-Pw-4"
			wrongCurrent  = "wrong-current-Pw-5"
			shortPassword = "sHort7!"
		)
		longSecret := "long-secret-" + strings.Repeat("Q", 250) // 262 characters
		passwords := []string{firstPassword, nextPassword, wrongGuess, strangerGuess, wrongCurrent, shortPassword, longSecret}

		// Every answer, and which of them hand out sessions.
		var sessions []Session
		var sessionBodies, otherBodies []string
		keep := func(r *response, mutation string) {
			t.Helper()
			if mutation == "" {
				otherBodies = append(otherBodies, r.Body)
				return
			}
			sessions = append(sessions, sessionOf(t, r, mutation))
			sessionBodies = append(sessionBodies, r.Body)
		}
		keep(tryRegister(t, s, email, firstPassword), "register")
		keep(tryLogin(t, s, email, firstPassword), "login")
		laptop := sessions[1]
		keep(tryLogin(t, s, email, wrongGuess), "")
		keep(tryLogin(t, s, "stranger@e2e.test", strangerGuess), "")
		keep(tryLogin(t, s, "not-an-email", strangerGuess), "")
		keep(tryRegister(t, s, "short@e2e.test", shortPassword), "")
		keep(tryRegister(t, s, "long@e2e.test", longSecret), "")
		keep(tryRegister(t, s, "not-an-email", shortPassword), "")
		keep(tryRegister(t, s, email, wrongGuess), "")
		keep(tryRefresh(t, s, laptop.RefreshToken), "refreshSession")
		keep(tryRefresh(t, s, laptop.RefreshToken), "") // reuse: ends the laptop's session
		keep(tryRefresh(t, s, wrongGuess), "")
		as := s.withToken(sessions[0].AccessToken)
		keep(as.Do(t, meQuery, nil), "")
		keep(tryChangePassword(t, as, wrongCurrent, nextPassword), "")
		keep(tryChangePassword(t, as, firstPassword, shortPassword), "")
		keep(tryChangePassword(t, as, firstPassword, nextPassword), "changePassword")
		keep(tryLogin(t, s, email, firstPassword), "")
		keep(tryLogin(t, s, email, nextPassword), "login")
		keep(s.withToken(sessions[len(sessions)-1].AccessToken).Do(t, `mutation { logout }`, nil), "")
		keep(s.withToken(sessions[len(sessions)-2].AccessToken).Do(t, `mutation { logout(allSessions: true) }`, nil), "")
		// A login sent the wrong way, with the password in the URL: refused, and not logged.
		getLogin := `mutation { login(input: {email: "` + email + `", password: "` + nextPassword + `"}) { accessToken } }`
		_, _, body := s.get(t, "/graphql?"+url.Values{"query": {getLogin}}.Encode())
		if !strings.Contains(body, `"errors"`) {
			t.Errorf("a login over GET was not refused: %s", body)
		}
		otherBodies = append(otherBodies, body)
		for _, sess := range sessions {
			otherBodies = append(otherBodies, sendWithAuthorization(t, s, []string{"Bearer " + sess.AccessToken}, meQuery, nil).Body)
		}
		if len(sessions) != 5 {
			t.Fatalf("%d sessions handed out, want 5 (register, login, refresh, changePassword, login)", len(sessions))
		}

		var tokens []string
		for _, sess := range sessions {
			tokens = append(tokens, sess.AccessToken, sess.RefreshToken)
		}
		for _, body := range otherBodies {
			for _, secret := range slices.Concat(tokens, passwords) {
				if strings.Contains(body, secret) {
					t.Errorf("an answer that is no Session shows the secret %q: %s", secret, body)
				}
			}
		}
		for i, body := range sessionBodies {
			for _, secret := range passwords {
				if strings.Contains(body, secret) {
					t.Errorf("a Session answer shows the password %q: %s", secret, body)
				}
			}
			for j, sess := range sessions {
				if j != i && (strings.Contains(body, sess.AccessToken) || strings.Contains(body, sess.RefreshToken)) {
					t.Errorf("Session answer %d shows the tokens of session %d: %s", i, j, body)
				}
			}
		}

		// The database keeps an argon2id hash of the password and the SHA-256 of each
		// refresh token, never either in clear.
		db := openDB(t, s)
		var hash string
		if err := db.QueryRow("SELECT password_hash FROM users WHERE email_key = '" + email + "'").Scan(&hash); err != nil {
			t.Fatalf("read the password hash: %v", err)
		}
		if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(hash, nextPassword) {
			t.Errorf("stored password hash %q, want an argon2id PHC string with m=19456,t=2,p=1", hash)
		}
		var hashes []string
		for _, sess := range sessions {
			sum := sha256.Sum256([]byte(sess.RefreshToken))
			hashes = append(hashes, hex.EncodeToString(sum[:]))
			var clear, hashed int
			if err := db.QueryRow("SELECT count(*) FROM refresh_tokens WHERE hash = '" + sess.RefreshToken + "'").Scan(&clear); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow("SELECT count(*) FROM refresh_tokens WHERE hash = '" + hashes[len(hashes)-1] + "'").Scan(&hashed); err != nil {
				t.Fatal(err)
			}
			if clear != 0 || hashed != 1 {
				t.Errorf("refresh_tokens rows: %d with the token in clear, %d with its SHA-256; want 0 and 1", clear, hashed)
			}
		}

		// Stopping the server flushes its log before it is read.
		s.Stop(t)
		logs := s.Stderr() + s.stdout.String()
		if !strings.Contains(logs, `"level":"DEBUG"`) || !strings.Contains(logs, "refresh_tokens") {
			t.Fatalf("LOG_LEVEL=debug logged no SQL statements, so the check below proves nothing:\n%s", logs)
		}
		var signatures []string
		for _, sess := range sessions {
			signatures = append(signatures, sess.AccessToken[strings.LastIndex(sess.AccessToken, ".")+1:])
		}
		for _, secret := range slices.Concat(passwords, tokens, signatures, hashes, []string{hash, "$argon2id$", secretsJWTSecret}) {
			if strings.Contains(logs, secret) {
				t.Errorf("the server's log shows the secret %q", secret)
			}
		}
	})
}
