package storage

import (
	"context"
	"fmt"

	"github.com/go-rel/rel"
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

// stampSQL runs one stamping pass (stamp_events, migrations 20261202010000 and 20261202050000,
// which bounds the pass's scan to the ids from stamped_below on): under the stampers' lock, it
// gives the next batches of committed transactions' events consecutive seqs after the
// clock's, in id order, and advances the clock. Each of its statements sees
// only committed rows, so a transaction still running is skipped, and stamped after it commits
// (the notification sent after its commit wakes the stampers); one that rolls back is never
// seen. Id order agrees with commit order wherever an order can be observed: a transaction
// begun after another committed takes its ids (nextval) after the other took its own, and two
// transactions on one row are ordered by its lock, the later one's trigger running after the
// earlier one committed. Transactions that overlapped without touching a common row have no
// order a client could see.
const stampSQL = "SELECT stamped AS n, pending FROM stamp_events($1, $2, $3)"

type stampRow struct {
	N       int64
	Pending bool
}

// StampEvents gives the Postgres events of committed transactions their seq, making them
// readable, and reports whether unstamped ones remain beyond what one call stamps (a backlog
// of over maxStampBatches batches), in which case the caller calls again. It is one statement,
// committed on its own. Stampers take turns; writers never wait for them, and no transaction,
// however long it runs, holds back the events of others. On SQLite an event's id is its seq:
// nothing to do.
func (db *DB) StampEvents(ctx context.Context) (pending bool, err error) {
	if db.dialect != Postgres {
		return false, nil
	}
	var rows []stampRow
	if err := db.repo.FindAll(ctx, &rows, rel.SQL(stampSQL, int64(stampLockKey), stampBatch, maxStampBatches)); err != nil {
		return false, fmt.Errorf("stamp events: %w", classify(ctx, err))
	}
	return len(rows) == 1 && rows[0].Pending, nil
}
