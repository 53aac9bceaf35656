package storage

import "context"

// write runs fn, the statements of one write, in a transaction of its own and returns nil
// only once the database has confirmed the COMMIT. fn must run them on the context it is
// given, which carries the transaction; writes do not nest (inside another transaction REL
// would take a savepoint, and SQLite's turn below is not reentrant).
//
// A statement's success is not the write's. go-rel/postgres's Insert returns once the
// RETURNING row has arrived and drops whatever the driver reports after it, but a lone
// statement's row comes ahead of the outcome of its implicit commit: a connection lost
// mid-commit (a crash, an ended session) or a deferred constraint failing at commit was
// answered as a success the database never kept. The explicit COMMIT's answer is checked
// instead: pgx reports a connection lost during it, and a COMMIT answered with ROLLBACK, as
// errors. A lost connection is classified ErrUnavailable: the write may or may not have been
// committed. The price is two round trips, BEGIN and COMMIT, which a write of one statement
// avoids through writeAlone.
//
// On SQLite the writes of this process take turns on a semaphore before they reach the
// database. SQLite admits one writer at a time; a writer that finds the lock taken sleeps
// in the driver's busy handler, backing off up to 100 ms between tries and deaf to its
// context, which under concurrent writes gave a p99 of over 100 ms and let a queued write
// outlive REQUEST_TIMEOUT. Waiting for the turn in Go is first come, first served and ends
// when ctx does. The busy timeout still covers writers in other processes.
//
// A committed write then wakes the event listeners: on SQLite this DB's ListenEvents (see
// commitListeners), on Postgres every process's (see eventNotifier). Neither waits.
func (db *DB) write(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.transact(ctx, fn, true, false)
}

// writeAlone is write for a write of one statement, st, which commits by itself: no BEGIN
// and no COMMIT, one round trip where write takes at least three. It returns the rows st
// selects (RETURNING). Its success is still the commit's: queryRows reads the answer to its end, and
// there the driver reports what follows the last row (pgx reads on to ReadyForQuery, past
// a deferred constraint failing at the implicit commit or a connection lost before its
// outcome arrived; SQLite's last step is the commit). A statement that returns no rows
// changed nothing and leaves nothing to commit.
func writeAlone[T any, PT interface {
	*T
	scanned
}](ctx context.Context, db *DB, st *statement) ([]T, error) {
	var rows []T
	err := db.transact(ctx, func(ctx context.Context) (err error) {
		rows, err = queryRows[T, PT](ctx, db, st)
		return err
	}, true, true)
	return rows, err
}

// writeUnlogged is write for what touches neither stores nor items (accounts, sessions,
// settings, and the log's own stamping and pruning), which adds nothing to the change log
// and so wakes no listener: a stamping that woke the readers who stamp would do so forever.
func (db *DB) writeUnlogged(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.transact(ctx, fn, false, false)
}

func (db *DB) transact(ctx context.Context, fn func(ctx context.Context) error, logged, alone bool) error {
	if db.writeTurn != nil {
		select {
		case db.writeTurn <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-db.writeTurn }()
	}
	run := db.repo.Transaction
	if alone {
		run = func(ctx context.Context, fn func(ctx context.Context) error) error { return fn(ctx) }
	}
	if err := run(ctx, fn); err != nil {
		return err
	}
	switch {
	case !logged:
	case db.commits != nil:
		db.commits.notify()
	case db.notifier != nil:
		db.notifier.notify()
	}
	return nil
}
