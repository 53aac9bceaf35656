package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/go-rel/rel"
)

// Session is one sign-in. Its refresh tokens are issued one after another, each used once
// to get the next; the session lives until it expires or is revoked (sign-out, a password
// change, a reused refresh token).
type Session struct {
	ID        int64      `db:"id"`
	UserID    int64      `db:"user_id"`
	CreatedAt time.Time  `db:"created_at"`
	ExpiresAt time.Time  `db:"expires_at"`
	RevokedAt *time.Time `db:"revoked_at"`
}

// Table tells REL where sessions live.
func (Session) Table() string { return "sessions" }

func (s *Session) normalize() {
	s.CreatedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC()
	if s.RevokedAt != nil {
		at := s.RevokedAt.UTC()
		s.RevokedAt = &at
	}
}

// activeAt reports whether the session may still be used at now.
func (s *Session) activeAt(now time.Time) bool {
	return s.RevokedAt == nil && s.ExpiresAt.After(now)
}

// storedTime is t as both databases keep it: in UTC, to the microsecond. Times the caller
// passes are stored so, and returned as they read back.
func storedTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// CreateSession starts a session for a user that lasts until expiresAt, with its first
// refresh token, known by its hash.
func (db *DB) CreateSession(ctx context.Context, userID int64, refreshHash string, expiresAt time.Time) (*Session, error) {
	var s *Session
	err := db.writeUnlogged(ctx, func(ctx context.Context) (err error) {
		s, err = db.insertSession(ctx, userID, refreshHash, expiresAt)
		return err
	})
	if err != nil {
		if isForeignKeyViolation(err) {
			return nil, errUserGone
		}
		return nil, fmt.Errorf("create session: %w", classify(ctx, err))
	}
	return s, nil
}

// insertSession adds a session and its first refresh token inside a write.
func (db *DB) insertSession(ctx context.Context, userID int64, refreshHash string, expiresAt time.Time) (*Session, error) {
	s := Session{UserID: userID, ExpiresAt: storedTime(expiresAt)}
	if err := db.repo.Insert(ctx, &s); err != nil {
		return nil, err
	}
	return &s, db.insertRefreshToken(ctx, s.ID, refreshHash)
}

func (db *DB) insertRefreshToken(ctx context.Context, sessionID int64, hash string) error {
	st := db.statement()
	st.write("INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (",
		st.arg(hash), ", ", st.arg(sessionID), ", ", st.arg(rel.Now()), ")")
	_, err := db.exec(ctx, st)
	return err
}

// KeptSpentTokens is how many spent refresh tokens a session keeps, the most recently spent:
// presented again, one of them is a reuse, which revokes the session. An older one is unknown,
// refused all the same, but no longer revokes anything. Without the bound a session kept alive
// by refreshing would add a row with every refresh, for as long as it lives.
const KeptSpentTokens = 16

// forgetSpentTokens deletes the spent tokens of session beyond the KeptSpentTokens most
// recently spent (by used_at, then hash, so that tokens spent in one instant are ordered).
func (db *DB) forgetSpentTokens(ctx context.Context, session int64) error {
	st := db.statement()
	st.write("DELETE FROM refresh_tokens WHERE session_id = ", st.arg(session), " AND used_at IS NOT NULL AND hash NOT IN (",
		"SELECT hash FROM refresh_tokens WHERE session_id = ", st.arg(session), " AND used_at IS NOT NULL ORDER BY used_at DESC, hash DESC LIMIT ",
		st.arg(KeptSpentTokens), ")")
	_, err := db.exec(ctx, st)
	return err
}

// RotateRefreshToken spends the refresh token oldHash at now and issues newHash in its place,
// extending the session to expiresAt. It returns an error matching ErrSessionEnded when the
// token is unknown (never issued, or spent before the session's last KeptSpentTokens), its
// session is revoked or expired at now, or the token was spent before.
//
// A token spent twice has been copied, or its client is confused: either way the session
// is revoked, and that revocation is committed although the refresh fails, so the newest
// token, whoever holds it, stops working too. The conditional UPDATE decides which of
// concurrent refreshes with one token spends it: exactly one succeeds, and every other is a
// reuse, which revokes the session the winner has just extended. A client that refreshes
// twice at once is signed out, as one whose token was stolen must be.
func (db *DB) RotateRefreshToken(ctx context.Context, oldHash, newHash string, now, expiresAt time.Time) (*Session, error) {
	now = storedTime(now)
	var (
		s     Session
		ended error
	)
	err := db.writeUnlogged(ctx, func(ctx context.Context) error {
		st := db.statement()
		st.write("UPDATE refresh_tokens SET used_at = ", st.arg(now), " WHERE hash = ", st.arg(oldHash), " AND used_at IS NULL")
		spent, err := db.exec(ctx, st)
		if err != nil {
			return err
		}
		st = db.statement()
		st.write("SELECT ", qualify("s.", sessionColumns), " FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.hash = ", st.arg(oldHash))
		rows, err := queryRows[Session](ctx, db, st)
		if err != nil {
			return err
		}
		switch {
		case len(rows) == 0:
			ended = fmt.Errorf("refresh token unknown: %w", ErrSessionEnded)
			return nil
		case spent == 0:
			ended = fmt.Errorf("refresh token of session %d used again; session revoked: %w", rows[0].ID, ErrSessionEnded)
			return db.revokeSessions(ctx, "id", rows[0].ID, now)
		case !rows[0].activeAt(now):
			// The token stays spent: presented again, it is a reuse of an ended session.
			ended = fmt.Errorf("session %d revoked or expired: %w", rows[0].ID, ErrSessionEnded)
			return nil
		}
		s = rows[0]
		s.ExpiresAt = storedTime(expiresAt)
		if err := db.insertRefreshToken(ctx, s.ID, newHash); err != nil {
			return err
		}
		if err := db.forgetSpentTokens(ctx, s.ID); err != nil {
			return err
		}
		st = db.statement()
		st.write("UPDATE sessions SET expires_at = ", st.arg(s.ExpiresAt), " WHERE id = ", st.arg(s.ID))
		_, err = db.exec(ctx, st)
		return err
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("rotate refresh token: %w", classify(ctx, err))
	case ended != nil:
		return nil, ended
	}
	return &s, nil
}

// RevokeSession ends a session. Revoking one that is revoked already, or gone, is no error:
// either way it can no longer be used.
func (db *DB) RevokeSession(ctx context.Context, id int64) error {
	err := db.writeUnlogged(ctx, func(ctx context.Context) error { return db.revokeSessions(ctx, "id", id, rel.Now()) })
	if err != nil {
		return fmt.Errorf("revoke session %d: %w", id, classify(ctx, err))
	}
	return nil
}

// RevokeUserSessions ends every session of a user.
func (db *DB) RevokeUserSessions(ctx context.Context, userID int64) error {
	err := db.writeUnlogged(ctx, func(ctx context.Context) error { return db.revokeSessions(ctx, "user_id", userID, rel.Now()) })
	if err != nil {
		return fmt.Errorf("revoke sessions of user %d: %w", userID, classify(ctx, err))
	}
	return nil
}

// revokeSessions ends, inside a write, the live sessions whose column (id or user_id) is
// value.
func (db *DB) revokeSessions(ctx context.Context, column string, value int64, now time.Time) error {
	st := db.statement()
	st.write("UPDATE sessions SET revoked_at = ", st.arg(now), " WHERE ", column, " = ", st.arg(value), " AND revoked_at IS NULL")
	_, err := db.exec(ctx, st)
	return err
}

// ChangePassword sets a user's new password hash, ends every session of the user (the old
// password may be what an attacker signed in with) and starts the session the user goes on
// with, all in one write.
func (db *DB) ChangePassword(ctx context.Context, userID int64, newHash, refreshHash string, expiresAt time.Time) (*Session, error) {
	var s *Session
	err := db.writeUnlogged(ctx, func(ctx context.Context) (err error) {
		if err := db.setPasswordHash(ctx, userID, newHash); err != nil {
			return err
		}
		if err := db.revokeSessions(ctx, "user_id", userID, rel.Now()); err != nil {
			return err
		}
		s, err = db.insertSession(ctx, userID, refreshHash, expiresAt)
		return err
	})
	switch {
	case err == nil:
		return s, nil
	case isTyped(err):
		return nil, err
	}
	return nil, fmt.Errorf("change password of user %d: %w", userID, classify(ctx, err))
}

// sessionWithRole is a session and its user's role, read in one statement.
type sessionWithRole struct {
	Session
	role Role
}

func (s *sessionWithRole) scanTargets() []any { return append(s.Session.scanTargets(), &s.role) }

// SessionState says whose a session is, the user's current role (not the one the access
// token was issued with), and whether the session is active at now: not revoked and not
// expired. A session that does not exist (its user deleted) is inactive, with no error.
func (db *DB) SessionState(ctx context.Context, id int64, now time.Time) (userID int64, role Role, active bool, err error) {
	st := db.statement()
	st.write("SELECT ", qualify("s.", sessionColumns), ", u.role FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ", st.arg(id))
	rows, err := queryRows[sessionWithRole](ctx, db, st)
	if err != nil {
		return 0, "", false, fmt.Errorf("get session %d: %w", id, classify(ctx, err))
	}
	if len(rows) == 0 {
		return 0, "", false, nil
	}
	s := rows[0]
	return s.UserID, s.role, s.activeAt(now), nil
}

// pruneBatch bounds the rows one pruning statement deletes, so that on SQLite no write
// waits behind a long delete.
const pruneBatch = 1000

// PruneSessions deletes what sign-in no longer needs, in batches of its own writes:
// sessions that have ended (revoked, or expired at now) with their refresh tokens, and the
// spent refresh tokens of live sessions spent before spentBefore. An ended session's access
// tokens stay refused once its row is gone (SessionState reads a missing session as
// inactive); a pruned spent token presented again is refused as unknown, without the
// reuse detection that would end its session. It returns the rows deleted.
func (db *DB) PruneSessions(ctx context.Context, now, spentBefore time.Time) (int, error) {
	total := 0
	for _, prune := range []func(*statement){
		func(st *statement) {
			st.write("DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE revoked_at IS NOT NULL OR expires_at <= ",
				st.arg(storedTime(now)), " LIMIT ", fmt.Sprint(pruneBatch), ")")
		},
		func(st *statement) {
			st.write("DELETE FROM refresh_tokens WHERE hash IN (SELECT hash FROM refresh_tokens WHERE used_at < ",
				st.arg(storedTime(spentBefore)), " LIMIT ", fmt.Sprint(pruneBatch), ")")
		},
	} {
		for {
			var n int
			err := db.writeUnlogged(ctx, func(ctx context.Context) (err error) {
				st := db.statement()
				prune(st)
				n, err = db.exec(ctx, st)
				return err
			})
			if err != nil {
				return total, fmt.Errorf("prune sessions: %w", classify(ctx, err))
			}
			total += n
			if n < pruneBatch {
				break
			}
		}
	}
	return total, nil
}
