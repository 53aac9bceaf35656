package storage

import (
	"context"
	"fmt"
	"time"
)

// PruneEvents removes the events older than before, oldest seq first, and raises
// EventsPrunedThrough to the last one removed. It stops at the first event that is not
// older (one whose transaction ran long may follow younger ones), so the log always holds
// every event after EventsPrunedThrough: a position at or above it is never missing one.
// The newest event is always kept: SQLite numbers a new event after the largest id there
// is. Each batch of pruneBatch events (sessions.go) is a short write of its own, locking no
// store or item (on Postgres, only the clock row, which stamping takes too).
func (db *DB) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		n, err := db.pruneEventBatch(ctx, before)
		total += n
		if err != nil {
			return total, fmt.Errorf("prune events: %w", classify(ctx, err))
		}
		if n < pruneBatch {
			return total, nil
		}
	}
}

func (db *DB) pruneEventBatch(ctx context.Context, before time.Time) (int, error) {
	var removed int
	err := db.writeUnlogged(ctx, func(ctx context.Context) error {
		clock := "SELECT pruned_through AS n FROM event_clock"
		if db.dialect == Postgres {
			clock += " FOR UPDATE" // one pruner at a time; SQLite's write lock does the same
		}
		from, err := db.count(ctx, clock)
		if err != nil {
			return err
		}
		newest, err := db.count(ctx, db.latestEventSeqSQL())
		if err != nil {
			return err
		}
		// through is the last event of the old prefix of the next batch.
		seq := db.seqColumn()
		st := db.statement()
		st.write("SELECT COALESCE(max(seq), 0) AS n FROM (",
			"SELECT seq, max(CASE WHEN at < ", st.arg(db.eventTime(before)), " THEN 0 ELSE 1 END) OVER (ORDER BY seq) AS kept",
			" FROM (SELECT ", seq, " AS seq, at FROM events WHERE ", seq, " > ", st.arg(from), " AND ", seq, " < ", st.arg(newest),
			" ORDER BY ", seq, " LIMIT ", st.arg(pruneBatch), ") AS batch",
			") AS prefix WHERE kept = 0")
		through, err := db.count(ctx, st.sql.String(), st.args...)
		if err != nil || through <= from {
			return err
		}
		del := db.statement()
		del.write("DELETE FROM events WHERE ", seq, " > ", del.arg(from), " AND ", seq, " <= ", del.arg(through))
		if removed, err = db.exec(ctx, del); err != nil {
			return err
		}
		clockUpdate := db.statement()
		clockUpdate.write("UPDATE event_clock SET pruned_through = ", clockUpdate.arg(through))
		_, err = db.exec(ctx, clockUpdate)
		return err
	})
	if err != nil {
		return 0, err
	}
	return removed, nil
}

// eventTime is t as a bound value comparable with events.at. SQLite keeps at as text with
// milliseconds, whose text order is time order; at < t holds exactly when at is below t
// rounded up to a whole millisecond.
func (db *DB) eventTime(t time.Time) any {
	t = t.UTC()
	if db.dialect == Postgres {
		return t
	}
	ms := t.Truncate(time.Millisecond)
	if ms.Before(t) {
		ms = ms.Add(time.Millisecond)
	}
	return ms.Format("2006-01-02 15:04:05.000")
}
