package events_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storegraph/storegraph/events"
	"github.com/storegraph/storegraph/storage"
)

// callCountingLog is a memLog that counts the hub's calls.
type callCountingLog struct {
	*memLog
	reads, stamps atomic.Int64
}

func (l *callCountingLog) ReadEvents(ctx context.Context, after int64, limit int) ([]storage.Event, error) {
	l.reads.Add(1)
	return l.memLog.ReadEvents(ctx, after, limit)
}

func (l *callCountingLog) StampEvents(ctx context.Context) (bool, error) {
	l.stamps.Add(1)
	return l.memLog.StampEvents(ctx)
}

// A process that writes with nobody subscribed stamps the log but reads none of it: it only
// keeps up with where the log ends, and a subscriber that comes later gets what follows.
func TestHubReadsNothingWhileNobodyListens(t *testing.T) {
	l := &callCountingLog{memLog: newMemLog()}
	h := runHub(t, l, events.Options{})
	for i := range int64(20) {
		l.commit(1)
		waitFor(t, "the hub at the log's end", func() bool { return events.Position(h) == i+1 })
	}
	if n := l.reads.Load(); n != 0 {
		t.Fatalf("the hub read the log %d times with nobody subscribed, want 0", n)
	}

	ch := subscribe(t, h, nil, nil)
	l.commit(1)
	if got := receive(t, ch, 1); got[0] != 21 {
		t.Fatalf("a subscriber from the present got %v first, want [21]", got)
	}
}

// However fast commits come, the hub passes over the log (stamping, then reading) at most
// once per interval: the log costs the writers a bounded number of statements a second.
func TestHubPassesOverTheLogAtMostOncePerInterval(t *testing.T) {
	l := &callCountingLog{memLog: newMemLog()}
	h := runHub(t, l, events.Options{})
	ch := subscribe(t, h, nil, nil)

	const commits = 2000
	start := time.Now()
	for range commits {
		l.commit(1)
	}
	receive(t, ch, commits)
	elapsed := time.Since(start)
	// One pass at the start, one per interval begun, and the last one.
	if most := int64(elapsed/events.FollowInterval) + 3; l.stamps.Load() > most {
		t.Errorf("%d commits in %v took %d passes, want at most %d", commits, elapsed, l.stamps.Load(), most)
	}
}

// A write made outside the server wakes nobody: the hub finds it when it looks at the log
// after a sweep interval without a wake-up, whether anyone is subscribed or not.
func TestWritesNobodyAnnouncedAreFoundAtTheNextSweep(t *testing.T) {
	l := newMemLog()
	h := runHub(t, l, events.Options{Sweep: 10 * time.Millisecond})
	l.writeQuietly(2)
	waitFor(t, "the hub at the log's end", func() bool { return events.Position(h) == 2 })

	ch := subscribe(t, h, nil, nil)
	l.writeQuietly(3)
	if got, want := receive(t, ch, 3), seqs(3, 5); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// While the log holds nothing new, a sweep is one look and no pass: no stamping statement
// and no read.
func TestSweepsOfAQuietLogRunNoPass(t *testing.T) {
	l := &callCountingLog{memLog: newMemLog()}
	h := runHub(t, l, events.Options{Sweep: time.Millisecond})
	subscribe(t, h, nil, nil)
	waitFor(t, "a first sweep", func() bool { return l.sweepsSinceWrite() >= 1 })
	stamps, reads := l.stamps.Load(), l.reads.Load()
	waitFor(t, "three more sweeps", func() bool { return l.sweepsSinceWrite() >= 4 })
	if s, r := l.stamps.Load(), l.reads.Load(); s != stamps || r != reads {
		t.Fatalf("three sweeps of a quiet log stamped %d and read %d times, want 0 and 0", s-stamps, r-reads)
	}
}
