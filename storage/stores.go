package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/go-rel/rel"
)

// Store is a shop in the catalogue. OwnerID is the user who made it; nil for a store made
// before accounts, or by an admin acting as nobody.
type Store struct {
	ID        int64     `db:"id"`
	Name      string    `db:"name"`
	NameKey   string    `db:"name_key"`
	OwnerID   *int64    `db:"owner_id"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

// Table tells REL where stores live.
func (Store) Table() string { return "stores" }

func (s *Store) rowID() int64 { return s.ID }

// parentID is the store's owner (0 for none): a user's stores are read a page per user.
func (s *Store) parentID() int64 {
	if s.OwnerID == nil {
		return 0
	}
	return *s.OwnerID
}

func (s *Store) sortValue(column string) any {
	switch column {
	case "name_key":
		return s.NameKey
	case "created_at":
		return s.CreatedAt
	}
	return s.ID
}

func (s *Store) normalize() {
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
}

// storeKeys are the orders a store listing accepts.
var storeKeys = []sortKey{
	{field: "ID", column: "id", kind: keyID},
	{field: "NAME", column: "name_key", kind: keyString},
	{field: "CREATED_AT", column: "created_at", kind: keyTime},
}

// StoreFilter narrows a store listing.
type StoreFilter struct {
	// NameContains matches names containing it, ignoring case.
	NameContains *string
	// OwnerID keeps the stores of that user.
	OwnerID *int64
}

func (f StoreFilter) where() (conditions, error) {
	var (
		p problems
		c conditions
	)
	c.nameContains(&p, "nameContains", f.NameContains)
	if f.OwnerID != nil {
		id := *f.OwnerID
		c.add(func(st *statement) { st.write(" AND owner_id = ", st.arg(id)) })
	}
	return c, p.err()
}

// GetStore returns the store with the given id, or a *NotFoundError.
func (db *DB) GetStore(ctx context.Context, id int64) (*Store, error) {
	return getByID[Store](ctx, db, "stores", storeColumns, id, errStoreNotFound)
}

// ListStores returns one page of stores.
func (db *DB) ListStores(ctx context.Context, filter StoreFilter, order Order, page PageArgs) (Page[*Store], error) {
	where, err := filter.where()
	if err != nil {
		return Page[*Store]{}, err
	}
	return list[Store](ctx, db, listing{table: "stores", columns: storeColumns, keys: storeKeys, order: order, page: page, filter: where})
}

// CountStores counts the stores that match filter.
func (db *DB) CountStores(ctx context.Context, filter StoreFilter) (int, error) {
	where, err := filter.where()
	if err != nil {
		return 0, err
	}
	return db.countListing(ctx, "stores", where)
}

// CreateStore adds a store owned by actor (by nobody when actor is nobody, which only an
// admin may be). Names are trimmed and unique regardless of case; the database's unique
// index decides between concurrent creates.
func (db *DB) CreateStore(ctx context.Context, actor Actor, name string) (*Store, error) {
	var p problems
	name = cleanName(&p, "name", name)
	if err := p.err(); err != nil {
		return nil, err
	}
	if !actor.Admin && actor.UserID == 0 {
		return nil, errAdminOnly
	}
	now := rel.Now()
	st := db.statement()
	st.write("INSERT INTO stores (name, name_key, owner_id, created_at, updated_at) VALUES (",
		st.arg(name), ", ", st.arg(nameKey(name)), ", ", st.arg(actor.owner()), ", ", st.arg(now), ", ", st.arg(now),
		") RETURNING ", storeColumns)
	rows, err := writeAlone[Store](ctx, db, st)
	if err == nil && len(rows) != 1 {
		err = fmt.Errorf("the insert returned %d rows", len(rows))
	}
	if err != nil {
		switch {
		case isUniqueViolation(err):
			return nil, errStoreNameTaken
		case isForeignKeyViolation(err): // the actor's account was deleted meanwhile
			return nil, errUserGone
		}
		return nil, fmt.Errorf("create store: %w", classify(ctx, err))
	}
	return &rows[0], nil
}

// UpdateStore renames a store, if actor may change it.
func (db *DB) UpdateStore(ctx context.Context, actor Actor, id int64, name string) (*Store, error) {
	var p problems
	name = cleanName(&p, "name", name)
	if err := p.err(); err != nil {
		return nil, err
	}
	var s Store
	err := db.readThenWrite(ctx, &s, rel.Eq("id", id), true, func(context.Context) (bool, error) {
		if !actor.mayChange(s.OwnerID) {
			return false, errStoreForbidden
		}
		s.Name, s.NameKey = name, nameKey(name)
		return true, nil
	})
	switch {
	case err == nil:
		return &s, nil
	case isNotFound(err):
		return nil, errStoreNotFound
	case isTyped(err):
		return nil, err
	case isUniqueViolation(err):
		return nil, errStoreNameTaken
	}
	return nil, fmt.Errorf("update store %d: %w", id, classify(ctx, err))
}

// DeleteStore deletes a store, if actor may change it; the database deletes its items with
// it (ON DELETE CASCADE).
func (db *DB) DeleteStore(ctx context.Context, actor Actor, id int64) error {
	var s Store
	return db.checkThenDelete(ctx, &s, id, "delete store", errStoreNotFound, func(context.Context) error {
		if !actor.mayChange(s.OwnerID) {
			return errStoreForbidden
		}
		return nil
	})
}
