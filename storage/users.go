package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-rel/rel"
)

// Role is what a user may do beyond their own stores.
type Role string

// The roles.
const (
	RoleUser  Role = "USER"
	RoleAdmin Role = "ADMIN"
)

// User is an account. PasswordHash is the PHC string of the password's hash; it never
// leaves the server.
type User struct {
	ID           int64     `db:"id"`
	Email        string    `db:"email"`
	EmailKey     string    `db:"email_key"`
	PasswordHash string    `db:"password_hash"`
	Role         Role      `db:"role"`
	CreatedAt    time.Time `db:"created_at"`
	UpdatedAt    time.Time `db:"updated_at"`
}

// Table tells REL where users live.
func (User) Table() string { return "users" }

func (u *User) rowID() int64 { return u.ID }

func (u *User) normalize() {
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
}

// CreateUser adds an account with role USER. Emails are trimmed and unique regardless of
// case; the database's unique index decides between concurrent registrations, so one email
// gets one account.
func (db *DB) CreateUser(ctx context.Context, email, passwordHash string) (*User, error) {
	clean, key, err := CleanEmail("email", email)
	if err != nil {
		return nil, err
	}
	u := User{Email: clean, EmailKey: key, PasswordHash: passwordHash, Role: RoleUser}
	if err := db.writeUnlogged(ctx, func(ctx context.Context) error { return db.repo.Insert(ctx, &u) }); err != nil {
		if isUniqueViolation(err) {
			return nil, errEmailTaken
		}
		return nil, fmt.Errorf("create user: %w", classify(ctx, err))
	}
	return &u, nil
}

// GetUser returns the user with the given id, or a *NotFoundError.
func (db *DB) GetUser(ctx context.Context, id int64) (*User, error) {
	return getByID[User](ctx, db, "users", userColumns, id, errUserNotFound)
}

// GetUserByEmail returns the user with that email, in any case, or a *NotFoundError for
// "email".
func (db *DB) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	st := db.statement()
	st.write("SELECT ", userColumns, " FROM users WHERE email_key = ", st.arg(emailKey(email)))
	rows, err := queryRows[User](ctx, db, st)
	if err != nil {
		return nil, fmt.Errorf("get user by email: %w", classify(ctx, err))
	}
	if len(rows) == 0 {
		return nil, errUserByEmailNotFound
	}
	return &rows[0], nil
}

// GetUsers returns the users with the given ids, in one statement, by id; ids with no user
// are absent.
func (db *DB) GetUsers(ctx context.Context, ids []int64) (map[int64]*User, error) {
	return getByIDs[User](ctx, db, "users", userColumns, ids)
}

// ListUsers returns every user, by id: for the admin command line, which pages nothing.
func (db *DB) ListUsers(ctx context.Context) ([]*User, error) {
	return db.users(ctx, db.statement().write("SELECT ", userColumns, " FROM users ORDER BY id"))
}

func (db *DB) users(ctx context.Context, st *statement) ([]*User, error) {
	rows, err := queryRows[User](ctx, db, st)
	if err != nil {
		return nil, fmt.Errorf("get users: %w", classify(ctx, err))
	}
	users := make([]*User, len(rows))
	for i := range rows {
		users[i] = &rows[i]
	}
	return users, nil
}

// roleLockKey is the advisory lock demotions of admins take turns on (Postgres).
const roleLockKey = 0x7367726f6c6573 // "sgroles"

// SetUserRole gives a user a role; only an admin may, and not to demote the last admin.
func (db *DB) SetUserRole(ctx context.Context, actor Actor, id int64, role Role) (*User, error) {
	if !actor.Admin {
		return nil, errAdminOnly
	}
	if role != RoleUser && role != RoleAdmin {
		return nil, Invalid("role", "Role must be USER or ADMIN.")
	}
	u, err := db.setRole(ctx, rel.Eq("id", id), role, db.keepAnAdmin)
	switch {
	case err == nil:
		return u, nil
	case isNotFound(err):
		return nil, errRoleUserNotFound
	case errors.Is(err, errLastAdmin):
		return nil, errLastAdmin
	}
	return nil, fmt.Errorf("set role of user %d: %w", id, classify(ctx, err))
}

// keepAnAdmin refuses to demote u, inside its write, when no other admin would remain.
// Demotions take turns (SQLite's writes do anyway), and the count is taken after the turn
// began, so two admins demoting each other at once cannot both succeed.
func (db *DB) keepAnAdmin(ctx context.Context, u *User, role Role) error {
	if u.Role != RoleAdmin || role == RoleAdmin {
		return nil
	}
	if db.dialect == Postgres {
		if _, _, err := db.repo.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(roleLockKey)); err != nil {
			return err
		}
	}
	st := db.statement()
	st.write("SELECT count(*) AS n FROM users WHERE role = ", st.arg(string(RoleAdmin)), " AND id <> ", st.arg(u.ID))
	others, err := db.count(ctx, st.sql.String(), st.args...)
	if err != nil {
		return err
	}
	if others == 0 {
		return errLastAdmin
	}
	return nil
}

// PromoteUser makes the user with that email an admin: the command line's way to the first
// admin, so it asks for no actor.
func (db *DB) PromoteUser(ctx context.Context, email string) (*User, error) {
	u, err := db.setRole(ctx, rel.Eq("email_key", emailKey(email)), RoleAdmin, nil)
	switch {
	case err == nil:
		return u, nil
	case isNotFound(err):
		return nil, errUserByEmailNotFound
	}
	return nil, fmt.Errorf("promote user: %w", classify(ctx, err))
}

// setRole gives the user where selects role, once check (if any) allows it, with the row locked.
func (db *DB) setRole(ctx context.Context, where rel.FilterQuery, role Role, check func(context.Context, *User, Role) error) (*User, error) {
	var u User
	err := db.readThenWrite(ctx, &u, where, false, func(ctx context.Context) (bool, error) {
		if check != nil {
			if err := check(ctx, &u, role); err != nil {
				return false, err
			}
		}
		changed := u.Role != role
		u.Role = role
		return changed, nil
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// SetPasswordHash replaces a user's password hash with one of the same password, as sign-in
// does when the hashing parameters have changed.
func (db *DB) SetPasswordHash(ctx context.Context, userID int64, hash string) error {
	err := db.writeUnlogged(ctx, func(ctx context.Context) error { return db.setPasswordHash(ctx, userID, hash) })
	switch {
	case err == nil:
		return nil
	case isTyped(err):
		return err
	}
	return fmt.Errorf("set password hash of user %d: %w", userID, classify(ctx, err))
}

// setPasswordHash writes a user's password hash inside a write.
func (db *DB) setPasswordHash(ctx context.Context, userID int64, hash string) error {
	st := db.statement()
	st.write("UPDATE users SET password_hash = ", st.arg(hash), ", updated_at = ", st.arg(rel.Now()),
		" WHERE id = ", st.arg(userID))
	n, err := db.exec(ctx, st)
	if err == nil && n == 0 {
		return errUserGone
	}
	return err
}
