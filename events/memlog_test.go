package events_test

import (
	"context"
	"sync"

	"github.com/storegraph/storegraph/storage"
)

// memLog is a change log in memory, for the fan-out's mechanics, where no database decides
// anything: events get consecutive seqs, and the test decides when stamping is held back and
// when the log fails.
type memLog struct {
	mu        sync.Mutex
	events    []storage.Event // stamped, by seq, none pruned
	latest    int64
	pruned    int64
	unstamped int  // committed events not stamped yet
	held      bool // stamping is held back, as by an older transaction still running
	err       error
	failures  int // calls that failed with err
	listeners map[*func()]struct{}
	sweeps    int // EventsWaiting calls since the last commit or quiet write
}

func newMemLog() *memLog { return &memLog{listeners: make(map[*func()]struct{})} }

// commit records n changes and notifies the listeners, as a commit does.
func (l *memLog) commit(n int) {
	l.mu.Lock()
	l.unstamped += n
	l.sweeps = 0
	wakes := make([]func(), 0, len(l.listeners))
	for w := range l.listeners {
		wakes = append(wakes, *w)
	}
	l.mu.Unlock()
	for _, wake := range wakes {
		wake()
	}
}

// writeQuietly records n changes and notifies nobody, as a write made outside the server does.
func (l *memLog) writeQuietly(n int) { l.set(func() { l.unstamped += n; l.sweeps = 0 }) }

// sweepsSinceWrite is how many times the hub has looked at the log unwoken since the last write.
func (l *memLog) sweepsSinceWrite() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sweeps
}

// hold holds stamping back; release lets it go on without notifying anyone, as the abort
// of the transaction that held it back does.
func (l *memLog) hold()    { l.set(func() { l.held = true }) }
func (l *memLog) release() { l.set(func() { l.held = false }) }

// fail makes every call fail with err; nil heals the log.
func (l *memLog) fail(err error) { l.set(func() { l.err = err }) }

// prune forgets the events up to seq.
func (l *memLog) prune(seq int64) {
	l.set(func() {
		i := 0
		for i < len(l.events) && l.events[i].Seq <= seq {
			i++
		}
		l.events = l.events[i:]
		l.pruned = max(l.pruned, seq)
	})
}

func (l *memLog) failureCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failures
}

func (l *memLog) set(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f()
}

// failing is l.err, counted; l.mu must be held.
func (l *memLog) failing() error {
	if l.err != nil {
		l.failures++
	}
	return l.err
}

func (l *memLog) ReadEvents(ctx context.Context, after int64, limit int) ([]storage.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.failing(); err != nil {
		return nil, err
	}
	var page []storage.Event
	for _, e := range l.events {
		if e.Seq > after && len(page) < limit {
			page = append(page, e)
		}
	}
	return page, nil
}

func (l *memLog) StampEvents(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.failing(); err != nil {
		return false, err
	}
	if l.held {
		return l.unstamped > 0, nil
	}
	for ; l.unstamped > 0; l.unstamped-- {
		l.latest++
		l.events = append(l.events, storage.Event{Seq: l.latest, Entity: "Store", Kind: "CREATED", RowID: l.latest})
	}
	return false, nil
}

func (l *memLog) LatestEventSeq(ctx context.Context) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.failing(); err != nil {
		return 0, err
	}
	return l.latest, nil
}

func (l *memLog) EventsPrunedThrough(ctx context.Context) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.failing(); err != nil {
		return 0, err
	}
	return l.pruned, nil
}

func (l *memLog) EventsWaiting(ctx context.Context, after int64) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweeps++
	if err := l.failing(); err != nil {
		return false, err
	}
	return l.unstamped > 0 || l.latest > after, nil
}

// ListenEvents wakes on every commit, and once when it starts, as storage's does on connecting.
func (l *memLog) ListenEvents(ctx context.Context, wake func()) error {
	l.set(func() { l.listeners[&wake] = struct{}{} })
	defer l.set(func() { delete(l.listeners, &wake) })
	wake()
	<-ctx.Done()
	return nil
}
