package storage

import "context"

// ExecForTest runs raw SQL, so tests can check what the database itself refuses.
func (db *DB) ExecForTest(ctx context.Context, sql string) error {
	_, _, err := db.repo.Exec(ctx, sql)
	return err
}

// HoldWriteTurnForTest takes this process's SQLite write turn (see write), as a long write
// in progress would, and returns the function that gives it back.
func (db *DB) HoldWriteTurnForTest() (release func()) {
	db.writeTurn <- struct{}{}
	return func() { <-db.writeTurn }
}
