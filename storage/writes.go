package storage

import "context"

// write runs one write statement or transaction. On SQLite the writes of this process take
// turns on a semaphore before they reach the database. SQLite admits one writer at a time;
// a writer that finds the lock taken sleeps in the driver's busy handler, backing off up to
// 100 ms between tries and deaf to its context, which under concurrent writes gave a p99 of
// over 100 ms and let a queued write outlive REQUEST_TIMEOUT. Waiting for the turn in Go is
// first come, first served and ends when ctx does. The busy timeout still covers writers in
// other processes.
func (db *DB) write(ctx context.Context, fn func() error) error {
	if db.writeTurn == nil {
		return fn()
	}
	select {
	case db.writeTurn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-db.writeTurn }()
	return fn()
}
