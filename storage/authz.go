package storage

import "context"

// Actor is who makes a write. A store's owner and admins may change it and its items;
// unowned stores (made before accounts, or by an admin acting as nobody) only admins. The
// zero Actor is nobody, who may change nothing; admin tools and tests that need data act as
// Actor{Admin: true}.
type Actor struct {
	UserID int64
	Admin  bool
}

// mayChange reports whether a may change a store owned by owner (nil: by nobody).
func (a Actor) mayChange(owner *int64) bool {
	return a.Admin || owner != nil && a.UserID != 0 && *owner == a.UserID
}

// mayChangeStore writes mayChange as conditions on the stores row st selects (" AND …").
func (a Actor) mayChangeStore(st *statement) {
	switch {
	case a.Admin:
	case a.UserID == 0:
		st.write(" AND 1 = 0")
	default:
		st.write(" AND owner_id = ", st.arg(a.UserID))
	}
}

// owner is the owner_id a store created by a gets: NULL for nobody.
func (a Actor) owner() *int64 {
	if a.UserID == 0 {
		return nil
	}
	id := a.UserID
	return &id
}

// storeInWrite reads a store within a write for its owner, or returns missing. It takes no
// lock: owner_id only changes when the owning user is deleted (ON DELETE SET NULL), which
// takes rights away from someone who no longer exists; and a lock on the store taken after
// the item's would order the two locks against DeleteStore's, which cascades from the store
// to its items.
func (db *DB) storeInWrite(ctx context.Context, id int64, missing error) (*Store, error) {
	return getByID[Store](ctx, db, "stores", storeColumns, id, missing)
}
