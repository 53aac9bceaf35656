package storage

import (
	"context"
	"fmt"
	"strings"
	"time"
)

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

// TableForTest returns every row of table as text, one line each in the order of its first
// column, so that tests can tell whether anything changed.
func (db *DB) TableForTest(ctx context.Context, table string) (string, error) {
	rows, err := db.sql.QueryContext(ctx, "SELECT * FROM "+quoteIdent(table)+" ORDER BY 1")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	columns, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for rows.Next() {
		values := make([]any, len(columns))
		targets := make([]any, len(columns))
		for i := range values {
			targets[i] = &values[i]
		}
		if err := rows.Scan(targets...); err != nil {
			return "", err
		}
		for i, v := range values {
			if t, ok := v.(time.Time); ok {
				v = t.UTC() // pgx reads times in the local zone
			}
			fmt.Fprintf(&b, "%s=%v ", columns[i], v)
		}
		b.WriteString("\n")
	}
	return b.String(), rows.Err()
}
