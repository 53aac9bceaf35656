package storage_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// setEventTimes moves the given events' times, as the days passing would.
func setEventTimes(t *testing.T, db *storage.DB, at string, seqs ...int64) {
	t.Helper()
	column := "seq"
	if db.Dialect() == storage.SQLite {
		column = "id"
	}
	list := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(seqs)), ", "), "[]")
	if err := db.ExecForTest(context.Background(), fmt.Sprintf("UPDATE events SET at = '%s' WHERE %s IN (%s)", at, column, list)); err != nil {
		t.Fatal(err)
	}
}

func seqsOf(events []storage.Event) []int64 {
	var seqs []int64
	for _, e := range events {
		seqs = append(seqs, e.Seq)
	}
	return seqs
}

// Pruning removes the oldest events up to the first one it must keep, never the newest,
// and remembers the last one removed; the next event follows the newest.
func TestPruneEventsRemovesTheOldPrefixAndRaisesPrunedThrough(t *testing.T) {
	const (
		old   = "2024-12-31 23:59:59.999"
		exact = "2025-01-01 00:00:00.000"
		young = "2100-01-01 00:00:00.000"
	)
	cutoff := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for i := range 5 {
			mustStore(t, db, fmt.Sprint("Store ", i))
		}
		stampAll(t, db)
		setEventTimes(t, db, young, 1, 2, 3, 4, 5)

		for _, step := range []struct {
			name              string
			old, exact        []int64 // events to make older than the cutoff, or exactly as old
			before            time.Time
			wantRemoved       int
			wantPrunedThrough int64
			wantLeft          []int64
		}{
			{"nothing old", nil, nil, cutoff, 0, 0, []int64{1, 2, 3, 4, 5}},
			{"stops at the first young one", []int64{1, 2, 4}, nil, cutoff, 2, 2, []int64{3, 4, 5}},
			{"an event at the cutoff is kept", nil, []int64{3}, cutoff, 0, 2, []int64{3, 4, 5}},
			{"and removed a microsecond later", nil, nil, cutoff.Add(time.Microsecond), 2, 4, []int64{5}},
			{"not the newest", []int64{5}, nil, cutoff, 0, 4, []int64{5}},
		} {
			t.Run(step.name, func(t *testing.T) {
				if len(step.old) > 0 {
					setEventTimes(t, db, old, step.old...)
				}
				if len(step.exact) > 0 {
					setEventTimes(t, db, exact, step.exact...)
				}
				removed, err := db.PruneEvents(ctx, step.before)
				if err != nil || removed != step.wantRemoved {
					t.Errorf("pruned %d (%v), want %d", removed, err, step.wantRemoved)
				}
				if through, err := db.EventsPrunedThrough(ctx); err != nil || through != step.wantPrunedThrough {
					t.Errorf("pruned through %d (%v), want %d", through, err, step.wantPrunedThrough)
				}
				if got := seqsOf(eventsAfter(t, db, 0)); !slices.Equal(got, step.wantLeft) {
					t.Errorf("left %v, want %v", got, step.wantLeft)
				}
				if got := latestSeq(t, db); got != 5 {
					t.Errorf("latest seq = %d, want 5", got)
				}
			})
		}

		s := mustStore(t, db, "After Pruning")
		if got := eventsAfter(t, db, 5); len(got) != 1 || got[0].Seq != 6 || got[0].RowID != s.ID {
			t.Fatalf("events after pruning = %+v, want seq 6 for store %d", got, s.ID)
		}
		// Once it is no longer the newest, it goes.
		if removed, err := db.PruneEvents(ctx, cutoff); err != nil || removed != 1 {
			t.Errorf("pruned %d (%v), want 1", removed, err)
		}
		if through, err := db.EventsPrunedThrough(ctx); err != nil || through != 5 {
			t.Errorf("pruned through %d (%v), want 5", through, err)
		}
	})
}

// Many events are pruned in batches, each its own write.
func TestPruneEventsRemovesAnyNumberInBatches(t *testing.T) {
	const n = 2500
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := mustStore(t, db, "Bulk")
		numbers := fmt.Sprintf("WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %d) ", n)
		if db.Dialect() == storage.Postgres {
			numbers = fmt.Sprintf("WITH g(n) AS (SELECT generate_series(1, %d)) ", n)
		}
		if err := db.ExecForTest(ctx, numbers+fmt.Sprintf(
			"INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at) SELECT %d, 'Thing', 'thing', n, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM g", st.ID)); err != nil {
			t.Fatal(err)
		}
		stampAll(t, db)
		if got := latestSeq(t, db); got != n+1 {
			t.Fatalf("latest seq = %d, want %d", got, n+1)
		}
		if err := db.ExecForTest(ctx, "UPDATE events SET at = '2020-01-01 00:00:00.000'"); err != nil {
			t.Fatal(err)
		}
		removed, err := db.PruneEvents(ctx, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil || removed != n {
			t.Fatalf("pruned %d (%v), want %d (all but the newest)", removed, err, n)
		}
		if through, err := db.EventsPrunedThrough(ctx); err != nil || through != n {
			t.Errorf("pruned through %d (%v), want %d", through, err, n)
		}
		if got := seqsOf(eventsAfter(t, db, 0)); !slices.Equal(got, []int64{n + 1}) {
			t.Errorf("left %v, want [%d]", got, n+1)
		}
	})
}

// Neither pruning nor stamping waits for a writer: a transaction holding a store's row lock
// keeps its own event unstamped, and nothing else.
func TestPruningAndStampingDoNotWaitForWriters(t *testing.T) {
	ctx := context.Background()
	db := openMigrated(t, storagetest.NewPostgres(t))
	s := mustStore(t, db, "Locked")
	it := mustItem(t, db, s.ID, "Thing", 1)
	stampAll(t, db)
	if err := db.ExecForTest(ctx, "UPDATE events SET at = '2020-01-01 00:00:00.000'"); err != nil {
		t.Fatal(err)
	}

	tx, err := db.Pool().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE stores SET name = 'Still Locked' WHERE id = $1", s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE items SET price_cents = 2 WHERE store_id = $1", s.ID); err != nil {
		t.Fatal(err)
	}

	bounded, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// Nothing committed waits: the open transaction's events are its own, and its commit will
	// notify.
	if pending, err := db.StampEvents(bounded); err != nil || pending {
		t.Fatalf("stamp beside the open transaction: pending %v, %v; want false", pending, err)
	}
	if removed, err := db.PruneEvents(bounded, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil || removed != 1 {
		t.Fatalf("prune beside the open transaction: %d (%v), want 1 (all but the newest)", removed, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	got := eventsAfter(t, db, 2)
	if want := []change{{"Store", "UPDATED", s.ID, s.ID, nil}, {"Item", "UPDATED", it.ID, s.ID, nil}}; !slices.Equal(changesOf(got), want) {
		t.Fatalf("events after the commit = %+v, want %+v", changesOf(got), want)
	}
}
