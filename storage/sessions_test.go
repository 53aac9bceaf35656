package storage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage"
)

// state is what SessionState says of a session.
type state struct {
	userID int64
	role   storage.Role
	active bool
}

func sessionState(t *testing.T, db *storage.DB, id int64, now time.Time) state {
	t.Helper()
	userID, role, active, err := db.SessionState(context.Background(), id, now)
	if err != nil {
		t.Fatalf("state of session %d: %v", id, err)
	}
	return state{userID, role, active}
}

func TestCreateSessionKeepsTheExpiryToTheMicrosecond(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		u := mustUser(t, db, "ann@example.com")
		expires := time.Date(2027, 1, 2, 3, 4, 5, 123456789, time.FixedZone("UTC+1", 3600))
		wantExpires := time.Date(2027, 1, 2, 2, 4, 5, 123456000, time.UTC)

		s, err := db.CreateSession(ctx, u.ID, "hash-1", expires)
		if err != nil {
			t.Fatal(err)
		}
		if s.ID == 0 || s.UserID != u.ID || s.ExpiresAt != wantExpires || s.RevokedAt != nil || s.CreatedAt.Location() != time.UTC {
			t.Fatalf("session = %+v, want user %d, expiring at %v, not revoked", s, u.ID, wantExpires)
		}
		for _, tt := range []struct {
			name string
			now  time.Time
			want state
		}{
			{"a microsecond before it expires", wantExpires.Add(-time.Microsecond), state{u.ID, storage.RoleUser, true}},
			{"when it expires", wantExpires, state{u.ID, storage.RoleUser, false}},
			{"after it expired", wantExpires.Add(time.Hour), state{u.ID, storage.RoleUser, false}},
		} {
			if got := sessionState(t, db, s.ID, tt.now); got != tt.want {
				t.Errorf("%s: state = %+v, want %+v", tt.name, got, tt.want)
			}
		}

		var nf *storage.NotFoundError
		if _, err := db.CreateSession(ctx, 999999, "hash-2", expires); !errors.As(err, &nf) || *nf != (storage.NotFoundError{Resource: "User"}) {
			t.Fatalf("session of a missing user: %#v, want User not found", err)
		}
	})
}

func TestRotateRefreshTokenSpendsEachTokenOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
		u := mustUser(t, db, "ann@example.com")
		s := mustSession(t, db, u.ID, "h1", now.Add(time.Hour))
		reused := fmt.Sprintf("refresh token of session %d used again; session revoked: session ended", s.ID)
		ended := fmt.Sprintf("session %d revoked or expired: session ended", s.ID)

		// One session's refreshes, in order: each rotation extends it to an hour from then.
		steps := []struct {
			name       string
			old, new   string
			now        time.Time
			wantErr    string // "" for success
			wantActive bool   // at the step's now
		}{
			{"the first token is spent for the second", "h1", "h2", now.Add(10 * time.Minute), "", true},
			{"the second token works once", "h2", "h3", now.Add(20 * time.Minute), "", true},
			{"an old token is a reuse, which revokes the session", "h1", "h4", now.Add(30 * time.Minute), reused, false},
			{"then the newest token is refused too", "h3", "h5", now.Add(31 * time.Minute), ended, false},
			{"the reuse issued nothing", "h4", "h6", now.Add(32 * time.Minute), "refresh token unknown: session ended", false},
			{"a token never issued is unknown", "never", "h7", now.Add(33 * time.Minute), "refresh token unknown: session ended", false},
		}
		for _, tt := range steps {
			t.Run(tt.name, func(t *testing.T) {
				expires := tt.now.Add(time.Hour)
				got, err := db.RotateRefreshToken(ctx, tt.old, tt.new, tt.now, expires)
				if tt.wantErr != "" {
					if !errors.Is(err, storage.ErrSessionEnded) || err.Error() != tt.wantErr || got != nil {
						t.Fatalf("got %+v, %v; want %q", got, err, tt.wantErr)
					}
				} else if err != nil || got.ID != s.ID || got.UserID != u.ID || got.ExpiresAt != expires || got.RevokedAt != nil {
					t.Fatalf("got %+v, %v; want session %d extended to %v", got, err, s.ID, expires)
				}
				if st := sessionState(t, db, s.ID, tt.now); st.active != tt.wantActive {
					t.Fatalf("session active = %v, want %v", st.active, tt.wantActive)
				}
			})
		}
	})
}

func TestRotateRefreshTokenOfAnEndedSession(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
		u := mustUser(t, db, "ann@example.com")
		tests := []struct {
			name    string
			end     func(s *storage.Session) error
			now     time.Time
			wantErr bool
		}{
			{"live a microsecond before it expires", func(*storage.Session) error { return nil }, now.Add(time.Hour - time.Microsecond), false},
			{"expired when it expires", func(*storage.Session) error { return nil }, now.Add(time.Hour), true},
			{"expired after", func(*storage.Session) error { return nil }, now.Add(2 * time.Hour), true},
			{"revoked", func(s *storage.Session) error { return db.RevokeSession(ctx, s.ID) }, now, true},
			{"of a user whose sessions were revoked", func(s *storage.Session) error { return db.RevokeUserSessions(ctx, s.UserID) }, now, true},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				old, next := fmt.Sprintf("old-%d", i), fmt.Sprintf("next-%d", i)
				s := mustSession(t, db, u.ID, old, now.Add(time.Hour))
				if err := tt.end(s); err != nil {
					t.Fatal(err)
				}
				got, err := db.RotateRefreshToken(ctx, old, next, tt.now, tt.now.Add(time.Hour))
				if !tt.wantErr {
					if err != nil || got.ID != s.ID {
						t.Fatalf("got %+v, %v; want session %d", got, err, s.ID)
					}
					return
				}
				want := fmt.Sprintf("session %d revoked or expired: session ended", s.ID)
				if !errors.Is(err, storage.ErrSessionEnded) || err.Error() != want || got != nil {
					t.Fatalf("got %+v, %v; want %q", got, err, want)
				}
				// Nothing was issued, and the session was not extended.
				if _, err := db.RotateRefreshToken(ctx, next, "later", tt.now, tt.now.Add(time.Hour)); err == nil || err.Error() != "refresh token unknown: session ended" {
					t.Fatalf("the refused rotation's new token: %v, want it unknown", err)
				}
				if st := sessionState(t, db, s.ID, now.Add(time.Hour)); st.active {
					t.Fatal("the refused rotation extended the session")
				}
			})
		}
	})
}

// Concurrent refreshes with one token: the conditional UPDATE lets exactly one spend it;
// every other finds it spent, which is a reuse, and revokes the session the winner extended.
func TestConcurrentRotationsOfOneTokenHaveOneWinnerAndEndTheSession(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		const n = 8
		ctx := context.Background()
		now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
		u := mustUser(t, db, "ann@example.com")
		s := mustSession(t, db, u.ID, "shared", now.Add(time.Hour))

		var (
			wg    sync.WaitGroup
			errs  = make([]error, n)
			start = make(chan struct{})
		)
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = db.RotateRefreshToken(ctx, "shared", fmt.Sprintf("new-%d", i), now, now.Add(2*time.Hour))
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		reused := fmt.Sprintf("refresh token of session %d used again; session revoked: session ended", s.ID)
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("rotations %d and %d both succeeded", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, storage.ErrSessionEnded) || err.Error() != reused:
				t.Errorf("rotation %d: %v, want %q", i, err, reused)
			}
		}
		if winner < 0 {
			t.Fatal("no rotation succeeded")
		}
		if got := sessionState(t, db, s.ID, now); got != (state{u.ID, storage.RoleUser, false}) {
			t.Fatalf("state = %+v, want the session revoked", got)
		}
		want := fmt.Sprintf("session %d revoked or expired: session ended", s.ID)
		if _, err := db.RotateRefreshToken(ctx, fmt.Sprintf("new-%d", winner), "after", now, now.Add(time.Hour)); err == nil || err.Error() != want {
			t.Fatalf("the winner's token afterwards: %v, want %q", err, want)
		}
	})
}

func TestRevokeSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
		ann, bo := mustUser(t, db, "ann@example.com"), mustUser(t, db, "bo@example.com")
		ann1 := mustSession(t, db, ann.ID, "ann-1", now.Add(time.Hour))
		ann2 := mustSession(t, db, ann.ID, "ann-2", now.Add(time.Hour))
		bo1 := mustSession(t, db, bo.ID, "bo-1", now.Add(time.Hour))
		bo2 := mustSession(t, db, bo.ID, "bo-2", now.Add(time.Hour))

		steps := []struct {
			name   string
			revoke func() error
			want   map[int64]bool // session id: active
		}{
			{"one session", func() error { return db.RevokeSession(ctx, bo1.ID) },
				map[int64]bool{ann1.ID: true, ann2.ID: true, bo1.ID: false, bo2.ID: true}},
			{"the same session again", func() error { return db.RevokeSession(ctx, bo1.ID) },
				map[int64]bool{ann1.ID: true, ann2.ID: true, bo1.ID: false, bo2.ID: true}},
			{"a session that does not exist", func() error { return db.RevokeSession(ctx, 999999) },
				map[int64]bool{ann1.ID: true, ann2.ID: true, bo1.ID: false, bo2.ID: true}},
			{"every session of a user", func() error { return db.RevokeUserSessions(ctx, ann.ID) },
				map[int64]bool{ann1.ID: false, ann2.ID: false, bo1.ID: false, bo2.ID: true}},
		}
		for _, tt := range steps {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.revoke(); err != nil {
					t.Fatal(err)
				}
				for id, want := range tt.want {
					if got := sessionState(t, db, id, now); got.active != want {
						t.Errorf("session %d active = %v, want %v", id, got.active, want)
					}
				}
			})
		}
	})
}

func TestChangePasswordEndsEverySessionButTheNewOne(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		ann, bo := mustUser(t, db, "ann@example.com"), mustUser(t, db, "bo@example.com")
		old1 := mustSession(t, db, ann.ID, "old-1", now.Add(time.Hour))
		old2 := mustSession(t, db, ann.ID, "old-2", now.Add(time.Hour))
		other := mustSession(t, db, bo.ID, "other", now.Add(time.Hour))

		s, err := db.ChangePassword(ctx, ann.ID, "new-phc", "fresh", now.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if s.UserID != ann.ID || s.ExpiresAt != now.Add(2*time.Hour) || s.RevokedAt != nil {
			t.Fatalf("new session = %+v, want ann's, expiring in 2h", s)
		}
		for _, tt := range []struct {
			name string
			id   int64
			want bool
		}{
			{"the new session", s.ID, true},
			{"an old session", old1.ID, false},
			{"another old session", old2.ID, false},
			{"another user's session", other.ID, true},
		} {
			if got := sessionState(t, db, tt.id, now); got.active != tt.want {
				t.Errorf("%s: active = %v, want %v", tt.name, got.active, tt.want)
			}
		}
		if got, err := db.GetUser(ctx, ann.ID); err != nil || got.PasswordHash != "new-phc" {
			t.Fatalf("user read back %+v (%v), want the new hash", got, err)
		}
		if _, err := db.RotateRefreshToken(ctx, "fresh", "fresh-2", now, now.Add(time.Hour)); err != nil {
			t.Fatalf("the new session's token: %v", err)
		}
		if _, err := db.RotateRefreshToken(ctx, "old-1", "old-1b", now, now.Add(time.Hour)); !errors.Is(err, storage.ErrSessionEnded) {
			t.Fatalf("an old session's token: %v, want ErrSessionEnded", err)
		}

		var nf *storage.NotFoundError
		if _, err := db.ChangePassword(ctx, 999999, "x", "never", now.Add(time.Hour)); !errors.As(err, &nf) || *nf != (storage.NotFoundError{Resource: "User"}) {
			t.Fatalf("missing user: %#v, want User not found", err)
		}
		if _, err := db.RotateRefreshToken(ctx, "never", "never-2", now, now.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "unknown") {
			t.Fatalf("the refused change's token: %v, want it unknown (nothing written)", err)
		}
	})
}

func TestSessionStateReadsTheCurrentRole(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Now()
		u := mustUser(t, db, "ann@example.com")
		s := mustSession(t, db, u.ID, "h", now.Add(time.Hour))
		// Another admin, so that ann may be made a user again.
		if _, err := db.PromoteUser(ctx, mustUser(t, db, "boss@example.com").Email); err != nil {
			t.Fatal(err)
		}
		admin := storage.Actor{Admin: true}

		steps := []struct {
			name string
			role storage.Role
			want state
		}{
			{"made an admin", storage.RoleAdmin, state{u.ID, storage.RoleAdmin, true}},
			{"made a user again", storage.RoleUser, state{u.ID, storage.RoleUser, true}},
		}
		for _, tt := range steps {
			if _, err := db.SetUserRole(ctx, admin, u.ID, tt.role); err != nil {
				t.Fatal(err)
			}
			if got := sessionState(t, db, s.ID, now); got != tt.want {
				t.Errorf("%s: state = %+v, want %+v", tt.name, got, tt.want)
			}
		}
		if got := sessionState(t, db, 999999, now); got != (state{}) {
			t.Errorf("missing session: state = %+v, want inactive and nobody's", got)
		}
	})
}

func TestPruneSessionsDeletesEndedSessionsAndLongSpentTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
		ann := mustUser(t, db, "ann@example.com")
		live := mustSession(t, db, ann.ID, "live-1", now.Add(time.Hour))
		for _, step := range []struct {
			old, next string
			at        time.Time
		}{{"live-1", "live-2", now.Add(-2 * time.Hour)}, {"live-2", "live-3", now.Add(-30 * time.Minute)}} {
			if _, err := db.RotateRefreshToken(ctx, step.old, step.next, step.at, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		expired := mustSession(t, db, ann.ID, "expired-1", now.Add(-time.Second))
		revoked := mustSession(t, db, ann.ID, "revoked-1", now.Add(time.Hour))
		if err := db.RevokeSession(ctx, revoked.ID); err != nil {
			t.Fatal(err)
		}

		n, err := db.PruneSessions(ctx, now, now.Add(-time.Hour))
		// Two ended sessions (their tokens go with them) and live-1, spent two hours ago.
		if err != nil || n != 3 {
			t.Fatalf("pruned %d rows (%v), want 3", n, err)
		}
		for _, tt := range []struct {
			table string
			want  int
		}{{"sessions", 1}, {"refresh_tokens", 2}} {
			rows, err := db.TableForTest(ctx, tt.table)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(rows, "\n"); got != tt.want {
				t.Fatalf("%s left: %d rows, want %d:\n%s", tt.table, got, tt.want, rows)
			}
		}
		for id, want := range map[int64]bool{live.ID: true, expired.ID: false, revoked.ID: false} {
			if got := sessionState(t, db, id, now); got.active != want {
				t.Fatalf("session %d active = %v, want %v", id, got.active, want)
			}
		}
		// The pruned token is unknown now: refused, but the session lives on. The token spent
		// within the hour is still a reuse, and ends it.
		for _, tt := range []struct {
			token      string
			wantActive bool
		}{{"live-1", true}, {"live-2", false}} {
			if _, err := db.RotateRefreshToken(ctx, tt.token, "next-"+tt.token, now, now.Add(time.Hour)); !errors.Is(err, storage.ErrSessionEnded) {
				t.Fatalf("%s: %v, want ErrSessionEnded", tt.token, err)
			}
			if got := sessionState(t, db, live.ID, now); got.active != tt.wantActive {
				t.Fatalf("after %s: session active = %v, want %v", tt.token, got.active, tt.wantActive)
			}
		}
	})
}

// A session refreshed again and again keeps only its last KeptSpentTokens spent tokens: an
// older one is unknown (refused, but the session goes on), a kept one is a reuse (which
// revokes it), and the rows do not grow with the refreshes.
func TestASessionKeepsItsLastSpentTokensOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
		u := mustUser(t, db, "ann@example.com")
		s := mustSession(t, db, u.ID, "h0", now.Add(time.Hour))
		const refreshes = storage.KeptSpentTokens + 4
		for i := range refreshes {
			at := now.Add(time.Duration(i+1) * time.Minute)
			if _, err := db.RotateRefreshToken(ctx, fmt.Sprintf("h%d", i), fmt.Sprintf("h%d", i+1), at, at.Add(time.Hour)); err != nil {
				t.Fatalf("refresh %d: %v", i+1, err)
			}
		}
		var rows int
		if err := db.Pool().QueryRowContext(ctx, "SELECT count(*) FROM refresh_tokens WHERE session_id = "+fmt.Sprint(s.ID)).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if want := storage.KeptSpentTokens + 1; rows != want {
			t.Fatalf("%d refresh token rows after %d refreshes, want %d (the kept spent ones and the live one)", rows, refreshes, want)
		}

		at := now.Add(time.Hour)
		forgotten := fmt.Sprintf("h%d", refreshes-storage.KeptSpentTokens-1)
		if _, err := db.RotateRefreshToken(ctx, forgotten, "x1", at, at.Add(time.Hour)); err == nil || err.Error() != "refresh token unknown: session ended" {
			t.Fatalf("a forgotten token: %v, want it unknown", err)
		}
		if !sessionState(t, db, s.ID, at).active {
			t.Fatal("a forgotten token ended the session, want it going on")
		}
		kept := fmt.Sprintf("h%d", refreshes-storage.KeptSpentTokens)
		reused := fmt.Sprintf("refresh token of session %d used again; session revoked: session ended", s.ID)
		if _, err := db.RotateRefreshToken(ctx, kept, "x2", at, at.Add(time.Hour)); err == nil || err.Error() != reused {
			t.Fatalf("the oldest kept token: %v, want %q", err, reused)
		}
		if sessionState(t, db, s.ID, at).active {
			t.Fatal("a reuse left the session active")
		}
	})
}
