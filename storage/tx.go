package storage

import (
	"context"
	"fmt"

	"github.com/go-rel/rel"
)

// readThenWrite reads the row that where selects into entity, lets change check and modify
// it, and writes it back if change reports a change, all in one write (so one transaction)
// with the row locked from the read on. Without the lock two patches of different fields
// could each write back the other's stale value, and a row deleted in between would be half
// updated. An error from change (a refusal) ends the write with nothing written; change
// runs its own statements on the context it is given, inside the transaction. logged says
// whether the row is one the change log records (a store or an item): a write of any other
// wakes no event listener (see writeUnlogged).
func (db *DB) readThenWrite(ctx context.Context, entity scanned, where rel.FilterQuery, logged bool, change func(ctx context.Context) (bool, error)) error {
	return db.transact(ctx, func(ctx context.Context) error {
		if err := db.lockForWrite(ctx, entity, where); err != nil {
			return err
		}
		changed, err := change(ctx)
		if err != nil || !changed {
			return err
		}
		return db.repo.Update(ctx, entity)
	}, logged, false)
}

// checkThenDelete reads the row with the given id into entity, locked, and deletes it once
// check, which may read entity, allows it; all in one write. A missing row is notFound; the
// typed errors check returns are returned as they are, and any other error is named by what
// ("delete store 7").
func (db *DB) checkThenDelete(ctx context.Context, entity scanned, id int64, what string, notFound error, check func(ctx context.Context) error) error {
	err := db.write(ctx, func(ctx context.Context) error {
		if err := db.lockForWrite(ctx, entity, rel.Eq("id", id)); err != nil {
			return err
		}
		if err := check(ctx); err != nil {
			return err
		}
		return db.repo.Delete(ctx, entity)
	})
	switch {
	case err == nil:
		return nil
	case isNotFound(err):
		return notFound
	case isTyped(err):
		return err
	}
	return fmt.Errorf("%s %d: %w", what, id, classify(ctx, err))
}

// lockForWrite reads the row that where selects into entity, inside a write, and holds it
// until the write ends; rel.ErrNotFound when there is none.
//
// Postgres locks the row with FOR UPDATE. SQLite has neither row locks nor FOR UPDATE; its
// transactions begin IMMEDIATE (see parseURL), holding the database's write lock from the
// start, which serialises read-then-write transactions just the same.
func (db *DB) lockForWrite(ctx context.Context, entity scanned, where rel.FilterQuery) error {
	query := []rel.Querier{where}
	if db.dialect == Postgres {
		query = append(query, rel.ForUpdate())
	}
	if err := db.repo.Find(ctx, entity, query...); err != nil {
		return err
	}
	entity.normalize()
	return nil
}
