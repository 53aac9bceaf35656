package storage

import (
	"context"
	"fmt"
)

// stampLockKey is the advisory lock stampers take turns on. Only stampers take it: writers
// never wait for stamping.
const stampLockKey = 0x73676576656e7473 // "sgevents"

// stampBatch events are stamped per statement, at most maxStampBatches times per call, so
// that one call's transaction stays short however large the backlog; the rest is pending.
const (
	stampBatch      = 1000
	maxStampBatches = 100
)

// stampSQL gives the next batch of committed transactions' events consecutive seqs after
// the clock's, in id order, and advances the clock. The statement sees only committed rows,
// so a transaction still running is skipped, and stamped after it commits (the notification
// sent after its commit wakes the stampers); one that rolls back is never seen. Id order agrees with commit order
// wherever an order can be observed: a transaction begun after another committed takes its
// ids (nextval) after the other took its own, and two transactions on one row are ordered by
// its lock, the later one's trigger running after the earlier one committed. Transactions
// that overlapped without touching a common row have no order a client could see.
const stampSQL = `WITH batch AS (
	SELECT id, row_number() OVER (ORDER BY id) AS n
	FROM (SELECT id FROM events WHERE seq IS NULL ORDER BY id LIMIT $1) AS oldest
), stamped AS (
	UPDATE events SET seq = event_clock.seq + batch.n FROM batch, event_clock WHERE events.id = batch.id RETURNING 1
)
UPDATE event_clock SET seq = seq + (SELECT count(*) FROM stamped)
WHERE EXISTS (SELECT 1 FROM stamped)
RETURNING (SELECT count(*) FROM stamped) AS n`

// StampEvents gives the Postgres events of committed transactions their seq, making them
// readable, and reports whether unstamped ones remain beyond what one call stamps (a backlog
// of over maxStampBatches batches), in which case the caller calls again. Stampers take
// turns; writers never wait for them, and no transaction, however long it runs, holds back
// the events of others. On SQLite an event's id is its seq: nothing to do.
func (db *DB) StampEvents(ctx context.Context) (pending bool, err error) {
	if db.dialect != Postgres {
		return false, nil
	}
	err = db.writeUnlogged(ctx, func(ctx context.Context) error {
		if _, _, err := db.repo.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(stampLockKey)); err != nil {
			return err
		}
		for range maxStampBatches {
			n, err := db.count(ctx, stampSQL, stampBatch)
			if err != nil {
				return err
			}
			if n < stampBatch {
				break
			}
		}
		left, err := db.count(ctx, "SELECT count(*) AS n FROM (SELECT 1 FROM events WHERE seq IS NULL LIMIT 1) AS unstamped")
		pending = left > 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("stamp events: %w", classify(ctx, err))
	}
	return pending, nil
}
