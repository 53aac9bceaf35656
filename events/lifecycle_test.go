package events_test

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storegraph/storegraph/events"
	"github.com/storegraph/storegraph/storage"
)

// A consumer that stalls now and then makes its subscription lag, catch up from the log while
// a writer keeps committing, and rejoin the live feed at the seam, round after round: it gets
// every event once, in order, whichever of the hub and the log brought it.
func TestLaggingSubscriptionRejoinsAtTheSeamUnderAConcurrentWriter(t *testing.T) {
	const rounds, stalled, during = 20, 10, 40
	l := newMemLog()
	h := runHub(t, l, events.Options{QueueSize: 4, PageSize: 4})
	ch := subscribe(t, h, nil, nil)
	var next int64 = 1
	for round := range rounds {
		l.commit(stalled) // more than the channel holds, with nobody reading
		waitFor(t, "lagging", func() bool { return events.LiveSubscribers(h) == 0 })
		var writer sync.WaitGroup
		writer.Go(func() {
			for range during {
				l.commit(1)
				runtime.Gosched()
			}
		})
		n := int64(stalled + during)
		if got, want := receive(t, ch, int(n)), seqs(next, next+n-1); !slices.Equal(got, want) {
			t.Fatalf("round %d: got %v, want %v", round, got, want)
		}
		writer.Wait()
		next += n
		waitFor(t, "live again", func() bool { return events.LiveSubscribers(h) == 1 })
	}
}

// blockingLog is a log whose reads after one seq wait for their context to end: a catch-up
// stuck in the database.
type blockingLog struct {
	*memLog
	after   int64
	entered chan struct{} // a read after `after` has begun
}

func (l *blockingLog) ReadEvents(ctx context.Context, after int64, limit int) ([]storage.Event, error) {
	if after != l.after {
		return l.memLog.ReadEvents(ctx, after, limit)
	}
	select {
	case l.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// However a lagging subscription is busy when its context ends (waiting for its consumer,
// reading the log, waiting for its turn to read it), its channel is closed after what it had
// sent, and its goroutine is gone.
func TestEndingALaggingSubscriptionClosesItsChannel(t *testing.T) {
	for _, tt := range []struct {
		name string
		// stuck is the seq after which the log's reads hang, -1 for none.
		stuck int64
		// behind has another subscription lag first and hang with the one turn to read; the
		// subscription then starts from the log's beginning and waits for the turn.
		behind bool
		want   []int64 // what the subscription gets first
		exact  bool    // and nothing more
	}{
		{name: "waiting for its consumer", stuck: -1, want: seqs(1, 2)},
		{name: "reading the log", stuck: 2, want: seqs(1, 2), exact: true},
		{name: "waiting for its turn to read", stuck: 2, behind: true, exact: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := &blockingLog{memLog: newMemLog(), after: tt.stuck, entered: make(chan struct{}, 1)}
			h := runHub(t, l, events.Options{QueueSize: 2, PageSize: 16, CatchUpReaders: 1})
			var after *int64
			others := 0
			if tt.behind {
				subscribe(t, h, nil, nil)
				others = 1
				l.commit(10)
				<-l.entered
				after = ptr(int64(0))
			}
			ctx, cancel := context.WithCancel(t.Context())
			ch, err := subscribeEvents(ctx, h, after, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.behind {
				l.commit(10) // 1 and 2 fill the channel, with nobody reading: it lags
				waitFor(t, "lagging", func() bool { return events.LiveSubscribers(h) == 0 })
				if tt.stuck >= 0 {
					<-l.entered
				}
			}
			lagging := runtime.NumGoroutine() // its catch-up's among them
			cancel()
			got := receiveUntilClosed(t, ch)
			if len(got) < len(tt.want) || tt.exact && len(got) != len(tt.want) || !slices.Equal(got, seqs(1, int64(len(got)))) {
				t.Fatalf("got %v, then the end; want %v and (exact: %v) nothing more", got, tt.want, tt.exact)
			}
			waitFor(t, "gone", func() bool { return h.Subscribers() == others })
			waitFor(t, "its catch-up gone", func() bool { return runtime.NumGoroutine() <= lagging-1 })
		})
	}
}

func TestEndingALiveSubscriptionClosesItsChannelAfterWhatItHolds(t *testing.T) {
	l := newMemLog()
	h := runHub(t, l, events.Options{QueueSize: 8})
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := subscribeEvents(ctx, h, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.commit(3)
	waitFor(t, "queued", func() bool { return events.QueuedEvents(h) == 3 })
	cancel()
	if got := receiveUntilClosed(t, ch); !slices.Equal(got, seqs(1, 3)) {
		t.Fatalf("got %v, then the end; want [1 2 3]", got)
	}
	if n := h.Subscribers(); n != 0 {
		t.Fatalf("Subscribers() = %d, want 0", n)
	}
	l.commit(1) // the hub has nobody to offer it to, and sends on no closed channel
	waitFor(t, "the hub past it", func() bool { return events.LiveSubscribers(h) == 0 && events.QueuedEvents(h) == 0 })
}

// A consumer that receives once per notice never waits and never misses a value: the notices
// are one per value, live or caught up from the log, and one for the close.
func TestNotifyIsCalledOncePerValueAndOnceAtTheClose(t *testing.T) {
	const total = 50
	l := newMemLog()
	// A channel of 2: the consumer, which reads nothing until all are committed, lags.
	h := runHub(t, l, events.Options{QueueSize: 2, PageSize: 2})
	var notices atomic.Int64
	ready := make(chan struct{}, total+1)
	ctx, cancel := context.WithCancel(t.Context())
	even := func(e storage.Event) bool { return e.Seq%2 == 0 } // filtered out: no notice
	ch, err := subscribeEvents(ctx, h, nil, even, func() {
		notices.Add(1)
		ready <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	l.commit(total)
	waitFor(t, "lagging", func() bool { return events.LiveSubscribers(h) == 0 })

	receiveOnNotice := func() (storage.Event, bool) {
		t.Helper()
		select {
		case <-ready:
		case <-time.After(deadline):
			t.Fatalf("no notice within %s, after %d", deadline, notices.Load())
		}
		select {
		case e, ok := <-ch:
			return e, ok
		default:
			t.Fatalf("a notice with nothing to receive, after %d notices", notices.Load())
			return storage.Event{}, false
		}
	}
	var got []int64
	for len(got) < total/2 {
		e, ok := receiveOnNotice()
		if !ok {
			t.Fatalf("closed after %v", got)
		}
		got = append(got, e.Seq)
	}
	if want := []int64{2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42, 44, 46, 48, 50}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	waitFor(t, "live again", func() bool { return events.LiveSubscribers(h) == 1 })
	l.commit(2)
	if e, ok := receiveOnNotice(); !ok || e.Seq != 52 {
		t.Fatalf("then got %d (open %v), want 52", e.Seq, ok)
	}
	cancel()
	if e, ok := receiveOnNotice(); ok {
		t.Fatalf("got %d after the end, want the channel closed", e.Seq)
	}
	if n := notices.Load(); n != total/2+2 {
		t.Fatalf("%d notices, want %d: one per value and one for the close", n, total/2+2)
	}
}

// Subscriptions ending at any moment (live, lagging, catching up, rejoining) while a writer
// goes on each get a gapless prefix of the events, then a closed channel, once.
func TestSubscriptionsEndingAtAnyMomentGetAPrefixThenTheClose(t *testing.T) {
	const subscribers, total = 40, 400
	l := newMemLog()
	h := runHub(t, l, events.Options{QueueSize: 2, PageSize: 4})
	var readers sync.WaitGroup
	for range subscribers {
		ctx, cancel := context.WithCancel(t.Context())
		ch, err := subscribeEvents(ctx, h, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		stopAt := rand.IntN(total)
		readers.Go(func() {
			var got []int64
			if stopAt == 0 {
				cancel()
			}
			for e := range ch {
				got = append(got, e.Seq)
				if len(got) == stopAt {
					cancel()
				}
				if rand.IntN(3) == 0 {
					runtime.Gosched()
				}
			}
			cancel()
			if len(got) < stopAt || !slices.Equal(got, seqs(1, int64(len(got)))) {
				t.Errorf("a subscription ended after %d got %d events, not 1…k in order (k ≥ %d): %v", stopAt, len(got), stopAt, got)
			}
		})
	}
	for n := 0; n < total; {
		burst := min(1+rand.IntN(10), total-n)
		l.commit(burst)
		n += burst
		runtime.Gosched()
	}
	readers.Wait()
	if n := h.Subscribers(); n != 0 {
		t.Fatalf("Subscribers() = %d once every channel is closed, want 0", n)
	}
}
