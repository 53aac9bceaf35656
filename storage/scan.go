package storage

import (
	"context"
	"fmt"

	"github.com/go-rel/rel"
)

// Listings scan rows straight into entities: REL's reflection-based scanning was the largest
// single cost of a large nested page. The statements still go through REL's adapter, so
// instrumentation and error mapping are unchanged.

// scanned is an entity that reads itself from a row of its columns, in the order its
// table's column list (storeColumns, itemColumns, …) names them.
type scanned interface {
	scanTargets() []any
	// normalize puts the times in UTC, whatever zone the driver read them in (pgx uses
	// the local one), so that every read returns them alike.
	normalize()
}

const (
	storeColumns   = "id, name, name_key, owner_id, created_at, updated_at"
	itemColumns    = "id, store_id, name, name_key, price_cents, created_at, updated_at"
	userColumns    = "id, email, email_key, password_hash, role, created_at, updated_at"
	sessionColumns = "id, user_id, created_at, expires_at, revoked_at"
)

func (s *Store) scanTargets() []any {
	return []any{&s.ID, &s.Name, &s.NameKey, &s.OwnerID, &s.CreatedAt, &s.UpdatedAt}
}

func (u *User) scanTargets() []any {
	return []any{&u.ID, &u.Email, &u.EmailKey, &u.PasswordHash, &u.Role, &u.CreatedAt, &u.UpdatedAt}
}

func (s *Session) scanTargets() []any {
	return []any{&s.ID, &s.UserID, &s.CreatedAt, &s.ExpiresAt, &s.RevokedAt}
}

func (i *Item) scanTargets() []any {
	return []any{&i.ID, &i.StoreID, &i.Name, &i.NameKey, &i.PriceCents, &i.CreatedAt, &i.UpdatedAt}
}

// queryRows runs a statement that selects an entity's columns and returns its rows.
func queryRows[T any, PT interface {
	*T
	scanned
}](ctx context.Context, db *DB, st *statement) ([]T, error) {
	cur, err := db.repo.Adapter(ctx).Query(ctx, rel.Build("", st.query()))
	if err != nil {
		return nil, err
	}
	defer cur.Close()
	var rows []T
	// One row's targets serve every row: each is copied out once scanned, and a nullable
	// column is scanned into a pointer the driver allocates afresh.
	var v T
	targets := PT(&v).scanTargets()
	for cur.Next() {
		if err := cur.Scan(targets...); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		PT(&v).normalize()
		rows = append(rows, v)
	}
	if r, ok := cur.(interface{ Err() error }); ok {
		return rows, r.Err()
	}
	return rows, nil
}

// getByID returns the row of table with the given id, or notFound.
func getByID[T any, PT interface {
	*T
	scanned
}](ctx context.Context, db *DB, table, columns string, id int64, notFound error) (PT, error) {
	st := db.statement()
	st.write("SELECT ", columns, " FROM ", table, " WHERE id = ", st.arg(id))
	rows, err := queryRows[T, PT](ctx, db, st)
	if err != nil {
		return nil, fmt.Errorf("get %s %d: %w", table, id, classify(ctx, err))
	}
	if len(rows) == 0 {
		return nil, notFound
	}
	return PT(&rows[0]), nil
}
