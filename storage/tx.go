package storage

import (
	"context"

	"github.com/go-rel/rel"
)

// readThenWrite reads the row with the given id into entity, lets change modify it, and
// writes it back if change reports a change, all in one write (so one transaction) with the
// row locked from the read on. Without the lock two patches of different fields could each
// write back the other's stale value, and a row deleted in between would be half updated.
//
// Postgres locks the row with FOR UPDATE. SQLite has neither row locks nor FOR UPDATE; its
// transactions begin IMMEDIATE (see parseURL), holding the database's write lock from the
// start, which serialises read-then-write transactions just the same.
func (db *DB) readThenWrite(ctx context.Context, entity scanned, id int64, change func() bool) error {
	return db.write(ctx, func(ctx context.Context) error {
		query := []rel.Querier{rel.Eq("id", id)}
		if db.dialect == Postgres {
			query = append(query, rel.ForUpdate())
		}
		if err := db.repo.Find(ctx, entity, query...); err != nil {
			return err
		}
		entity.normalize()
		if !change() {
			return nil
		}
		return db.repo.Update(ctx, entity)
	})
}
