package storage

import "context"

// ExecForTest runs raw SQL, so tests can check what the database itself refuses.
func (db *DB) ExecForTest(ctx context.Context, sql string) error {
	_, _, err := db.repo.Exec(ctx, sql)
	return err
}
