package events_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/storegraph/storegraph/events"
	"github.com/storegraph/storegraph/storage"
)

// withHistory is a log whose first n events are stamped before any hub runs.
func withHistory(t *testing.T, n int) *memLog {
	t.Helper()
	l := newMemLog()
	l.commit(n)
	if _, err := l.StampEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSubscriptionFromThePresentGetsOnlyLaterEvents(t *testing.T) {
	l := withHistory(t, 3)
	h := runHub(t, l, events.Options{})
	ch := subscribe(t, h, nil, nil)
	l.commit(2)
	if got := receive(t, ch, 2); !slices.Equal(got, seqs(4, 5)) {
		t.Fatalf("got %v, want %v", got, seqs(4, 5))
	}
	l.commit(1)
	if got := receive(t, ch, 1); !slices.Equal(got, seqs(6, 6)) {
		t.Fatalf("then got %v, want [6]", got)
	}
}

func TestResumingFromACursorGetsEveryLaterEventOnceThenLiveOnes(t *testing.T) {
	for _, after := range []int64{0, 3, 9, 10} {
		t.Run(fmt.Sprint("after ", after), func(t *testing.T) {
			l := withHistory(t, 10)
			// Pages of 4 and a queue of 2: the catch-up takes several reads.
			h := runHub(t, l, events.Options{QueueSize: 2, PageSize: 4})
			ch := subscribe(t, h, &after, nil)
			if got, want := receive(t, ch, int(10-after)), seqs(after+1, 10); !slices.Equal(got, want) {
				t.Fatalf("after %d: got %v from the log, want %v", after, got, want)
			}
			l.commit(2)
			if got := receive(t, ch, 2); !slices.Equal(got, seqs(11, 12)) {
				t.Fatalf("after %d: got %v live, want [11 12]", after, got)
			}
		})
	}
}

func TestCursorsTheLogNoLongerContinuesAreExpired(t *testing.T) {
	for _, tt := range []struct {
		after   int64
		wantErr error
	}{
		{after: -1, wantErr: events.ErrCursorExpired},
		{after: 4, wantErr: events.ErrCursorExpired}, // 5 is pruned
		{after: 5},  // nothing after it is
		{after: 10}, // the present
		{after: 11, wantErr: events.ErrCursorExpired}, // not this log's
	} {
		l := withHistory(t, 10)
		l.prune(5)
		h := runHub(t, l, events.Options{})
		ch, err := subscribeEvents(t.Context(), h, &tt.after, nil, nil)
		if !errors.Is(err, tt.wantErr) {
			t.Fatalf("after %d: error %v, want %v", tt.after, err, tt.wantErr)
		}
		if err != nil {
			continue
		}
		l.commit(1)
		if got, want := receive(t, ch, int(11-tt.after)), seqs(tt.after+1, 11); !slices.Equal(got, want) {
			t.Fatalf("after %d: got %v, want %v", tt.after, got, want)
		}
	}
}

func TestSlowConsumerLagsAndCatchesUpWhileAFastOneKeepsUp(t *testing.T) {
	const queue, first, more = 4, 200, 300
	l := newMemLog()
	h := runHub(t, l, events.Options{QueueSize: queue, PageSize: 8})
	fast := subscribe(t, h, nil, nil)
	slow := subscribe(t, h, nil, nil)

	// The slow consumer reads nothing until the fast one has had everything, one commit at
	// a time (so that it never lags itself): the hub never waited for the slow one.
	for seq := int64(1); seq <= first; seq++ {
		l.commit(1)
		if got := receive(t, fast, 1); got[0] != seq {
			t.Fatalf("fast got %v, want [%d]", got, seq)
		}
	}
	if n := events.LiveSubscribers(h); n != 1 {
		t.Fatalf("%d live subscribers while the slow one stalls, want 1 (it lags)", n)
	}
	if n := events.QueuedEvents(h); n > queue {
		t.Fatalf("hub holds %d events, want at most the fast one's queue (%d)", n, queue)
	}

	// More commits while the slow one catches up, so that it meets them at the seam.
	var writer sync.WaitGroup
	writer.Go(func() {
		for n := 0; n < more; n += 10 {
			l.commit(10)
			runtime.Gosched()
		}
	})
	if got := receive(t, slow, first+more); !slices.Equal(got, seqs(1, first+more)) {
		t.Fatalf("slow got %v, want 1…%d once each", got, first+more)
	}
	if got := receive(t, fast, more); !slices.Equal(got, seqs(first+1, first+more)) {
		t.Fatalf("fast then got %v, want %d…%d", got, first+1, first+more)
	}
	writer.Wait()

	waitFor(t, "rejoined the live feed", func() bool { return events.LiveSubscribers(h) == 2 })
	l.commit(1)
	for name, ch := range map[string]<-chan storage.Event{"fast": fast, "slow": slow} {
		if got := receive(t, ch, 1); got[0] != first+more+1 {
			t.Fatalf("%s then got %v, want [%d]", name, got, first+more+1)
		}
	}
}

func TestManySubscribersEachGetEveryEventOnceInOrder(t *testing.T) {
	const subscribers, total = 50, 500
	l := newMemLog()
	// A queue of 2 makes most of them lag now and then.
	h := runHub(t, l, events.Options{QueueSize: 2, PageSize: 16})
	var readers sync.WaitGroup
	for range subscribers {
		ch := subscribe(t, h, nil, nil)
		readers.Go(func() {
			got := make([]int64, 0, total)
			for e := range ch {
				got = append(got, e.Seq)
				if len(got) == total {
					break
				}
				if rand.IntN(4) == 0 {
					runtime.Gosched()
				}
			}
			if !slices.Equal(got, seqs(1, total)) {
				t.Errorf("a subscriber got %d events, not 1…%d in order: %v", len(got), total, got)
			}
		})
	}
	for n := 0; n < total; {
		burst := min(1+rand.IntN(20), total-n)
		l.commit(burst)
		n += burst
	}
	readers.Wait()
}

func TestMatchFiltersWithoutLosingItsPlace(t *testing.T) {
	l := newMemLog()
	h := runHub(t, l, events.Options{QueueSize: 2, PageSize: 4})
	even := subscribe(t, h, nil, func(e storage.Event) bool { return e.Seq%2 == 0 })
	l.commit(20) // read after all 20 are out: it lags, and filters its catch-up too
	waitFor(t, "lagging", func() bool { return events.LiveSubscribers(h) == 0 })
	want := []int64{2, 4, 6, 8, 10, 12, 14, 16, 18, 20}
	if got := receive(t, even, len(want)); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	l.commit(2)
	if got := receive(t, even, 1); got[0] != 22 {
		t.Fatalf("then got %v, want [22]", got)
	}
}

func TestEndingTheContextClosesTheChannelAndRemovesTheSubscriber(t *testing.T) {
	h := runHub(t, newMemLog(), events.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := subscribeEvents(ctx, h, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := h.Subscribers(); n != 1 {
		t.Fatalf("Subscribers() = %d, want 1", n)
	}
	cancel()
	if got := receiveUntilClosed(t, ch); len(got) != 0 {
		t.Fatalf("got %v, want none", got)
	}
	if n := h.Subscribers(); n != 0 {
		t.Fatalf("Subscribers() = %d once the channel is closed, want 0", n)
	}
}

func TestStoppingRunClosesEverySubscription(t *testing.T) {
	l := newMemLog()
	h := newHub(l, events.Options{QueueSize: 2})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	live := subscribe(t, h, nil, nil)
	lagging := subscribe(t, h, nil, nil)
	l.commit(10)
	if got := receive(t, live, 10); !slices.Equal(got, seqs(1, 10)) {
		t.Fatalf("got %v, want 1…10", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v, want nil once its context ended", err)
	}
	for _, ch := range []<-chan storage.Event{live, lagging} {
		got := receiveUntilClosed(t, ch)
		if len(got) > 10 || !slices.Equal(got, seqs(1, int64(len(got)))) {
			t.Fatalf("got %v before the end, want a prefix of 1…10", got)
		}
	}
	if n := h.Subscribers(); n != 0 {
		t.Fatalf("Subscribers() = %d after Run stopped, want 0", n)
	}
	late, err := subscribeEvents(t.Context(), h, nil, nil, nil)
	if err != nil {
		t.Fatalf("Subscribe after Run: %v", err)
	}
	if got := receiveUntilClosed(t, late); len(got) != 0 {
		t.Fatalf("a subscription after Run got %v, want a closed channel", got)
	}
	if err := h.Run(t.Context()); err == nil {
		t.Fatal("a second Run returned nil, want an error")
	}
}

func TestRunSurvivesTheLogFailingAndLogsTheOutageOnce(t *testing.T) {
	errDown := errors.New("database down")
	for _, tt := range []struct {
		name string
		// downAtStart makes the log fail before Run reads the present, else after.
		downAtStart bool
		// want is what the subscription gets after the outage: the commit made during it
		// (when running) and the two after.
		want []int64
	}{
		{name: "down at start", downAtStart: true, want: seqs(1, 2)},
		{name: "down while running", want: seqs(2, 4)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newMemLog()
			var lines logBuffer
			h := newHub(l, events.Options{Log: slog.New(slog.NewTextHandler(&lines, nil))})
			ch := subscribe(t, h, nil, nil) // before Run: from the log's present, 0
			if tt.downAtStart {
				l.fail(errDown)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- h.Run(ctx) }()
			defer func() { cancel(); <-done }()
			if !tt.downAtStart {
				l.commit(1)
				if got := receive(t, ch, 1); got[0] != 1 {
					t.Fatalf("got %v, want [1]", got)
				}
				l.fail(errDown)
				l.commit(1) // wakes the hub into the failure
			}
			waitFor(t, "retried", func() bool { return l.failureCount() >= 3 })
			l.fail(nil)
			l.commit(2)
			if got := receive(t, ch, len(tt.want)); !slices.Equal(got, tt.want) {
				t.Fatalf("after the outage got %v, want %v", got, tt.want)
			}
			// The recovery is logged once the read that delivered them returns.
			waitFor(t, "logged as working again", func() bool { return lines.count("event log working again") > 0 })
			if n := lines.count("event log failing"); n != 1 {
				t.Errorf("%d lines say the log is failing, want 1 for %d failed calls", n, l.failureCount())
			}
			if n := lines.count("event log working again"); n != 1 {
				t.Errorf("%d lines say the log works again, want 1", n)
			}
		})
	}
}

func TestStampingHeldBackIsRetriedWithoutANotification(t *testing.T) {
	l := newMemLog()
	h := runHub(t, l, events.Options{})
	ch := subscribe(t, h, nil, nil)
	l.hold()
	l.commit(2) // the hub wakes and finds them pending
	l.release() // as an abort does: nobody is told
	if got := receive(t, ch, 2); !slices.Equal(got, seqs(1, 2)) {
		t.Fatalf("got %v, want [1 2]", got)
	}
}

func TestSubscriptionFromBeforeRunGetsWhatRunStartsPast(t *testing.T) {
	l := newMemLog()
	h := newHub(l, events.Options{})
	ch := subscribe(t, h, nil, nil) // the present is 0
	l.commit(3)
	if _, err := l.StampEvents(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }() // starts at 3
	defer func() { cancel(); <-done }()
	l.commit(1)
	if got := receive(t, ch, 4); !slices.Equal(got, seqs(1, 4)) {
		t.Fatalf("got %v, want 1…4", got)
	}
}

func TestLaggingSubscriptionEndsWhenTheLogNoLongerHoldsItsNextEvents(t *testing.T) {
	l := newMemLog()
	h := runHub(t, l, events.Options{QueueSize: 2})
	ch := subscribe(t, h, nil, nil)
	l.commit(20) // the consumer waits: the subscription holds 1 and lags
	waitFor(t, "lagging", func() bool { return events.LiveSubscribers(h) == 0 })
	l.prune(15)
	// What it had read before the prune, then the end: never an event past the hole.
	got := receiveUntilClosed(t, ch)
	if len(got) == 0 || len(got) > 15 || !slices.Equal(got, seqs(1, int64(len(got)))) {
		t.Fatalf("got %v then the end, want 1…k for some k < 16", got)
	}
	if n := h.Subscribers(); n != 0 {
		t.Fatalf("Subscribers() = %d, want 0", n)
	}
	if _, err := subscribeEvents(t.Context(), h, ptr(got[len(got)-1]), nil, nil); !errors.Is(err, events.ErrCursorExpired) {
		t.Fatalf("resuming from its last cursor: %v, want ErrCursorExpired", err)
	}
}

// countingLog is a log that notes how many ReadEvents calls run at once.
type countingLog struct {
	*memLog
	inFlight, most atomic.Int64
}

func (l *countingLog) ReadEvents(ctx context.Context, after int64, limit int) ([]storage.Event, error) {
	n := l.inFlight.Add(1)
	defer l.inFlight.Add(-1)
	for m := l.most.Load(); n > m && !l.most.CompareAndSwap(m, n); m = l.most.Load() {
	}
	runtime.Gosched() // give the other readers a chance to overlap
	return l.memLog.ReadEvents(ctx, after, limit)
}

// However many subscriptions fall behind, at most CatchUpReaders read the log at once, so
// that they cannot take every database connection from the writes; each still gets every
// event.
func TestLaggingSubscriptionsReadTheLogAFewAtATime(t *testing.T) {
	const subscribers, eventCount = 20, 100
	l := &countingLog{memLog: newMemLog()}
	h := runHub(t, l, events.Options{QueueSize: 1, PageSize: 4, CatchUpReaders: 2})
	chans := make([]<-chan storage.Event, subscribers)
	for i := range chans {
		chans[i] = subscribe(t, h, nil, nil)
	}
	l.commit(eventCount) // every queue overflows: all of them lag
	var readers sync.WaitGroup
	for i, ch := range chans {
		readers.Go(func() {
			if got := receive(t, ch, eventCount); !slices.Equal(got, seqs(1, eventCount)) {
				t.Errorf("subscriber %d got %v, want 1…%d once each", i, got, eventCount)
			}
		})
	}
	readers.Wait()
	if most := l.most.Load(); most > 2+1 { // the hub's own reader besides the two
		t.Fatalf("%d reads of the log at once, want at most 3", most)
	}
}
