package events_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/storegraph/storegraph/events"
	"github.com/storegraph/storegraph/storage"
)

// maxIdleSubscriptionBytes is what an idle subscription may cost the hub: a process holds up
// to MAX_STREAM_CONNECTIONS of them, each with subscriptions. Measured at 950 to 990 bytes,
// 640 of them the channel (DefaultQueueSize pointers).
const maxIdleSubscriptionBytes = 1536

// maxExtraGoroutines is what idle live subscriptions may add to the process's goroutines,
// however many they are: none of them has one of its own.
const maxExtraGoroutines = 5

// idleSubscriptions subscribes n times, as the schema's subscriptions do (values by pointer),
// and waits until each has received one event and is idle again. cancel ends them.
func idleSubscriptions(t *testing.T, l *memLog, h *events.Hub, n int) (subs []<-chan *storage.Event, cancel context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	subs = make([]<-chan *storage.Event, n)
	for i := range subs {
		var err error
		subs[i], err = events.Subscribe(ctx, h, nil, func(e *storage.Event) (*storage.Event, bool) { return e, true }, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	l.commit(1)
	for _, ch := range subs {
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatal("the test ended first")
		}
	}
	return subs, cancel
}

func TestIdleSubscriptionsAreSmall(t *testing.T) {
	const n = 1000
	l := newMemLog()
	h := runHub(t, l, events.Options{})
	inUse := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc + m.StackInuse
	}

	before := inUse()
	subs, cancel := idleSubscriptions(t, l, h, n)
	per := (int64(inUse()) - int64(before)) / n
	t.Logf("an idle subscription costs %d bytes (channel of %d)", per, events.DefaultQueueSize)
	if per > maxIdleSubscriptionBytes {
		t.Errorf("an idle subscription costs %d bytes, want at most %d", per, maxIdleSubscriptionBytes)
	}

	runtime.KeepAlive(subs)
	cancel()
	waitFor(t, "all gone", func() bool { return h.Subscribers() == 0 })
}

func TestIdleSubscriptionsHoldNoGoroutine(t *testing.T) {
	const n = 1000
	l := newMemLog()
	h := runHub(t, l, events.Options{})
	before := runtime.NumGoroutine()
	subs, cancel := idleSubscriptions(t, l, h, n)
	if got := runtime.NumGoroutine() - before; got > maxExtraGoroutines {
		t.Errorf("%d idle subscriptions added %d goroutines, want at most %d", n, got, maxExtraGoroutines)
	}

	cancel()
	// A subscription is counted until its channel is closed.
	waitFor(t, "all gone", func() bool { return h.Subscribers() == 0 })
	for i, ch := range subs {
		if e, ok := <-ch; ok {
			t.Fatalf("subscription %d got seq %d after it ended, want its channel closed", i, e.Seq)
		}
	}
	// Ending them starts a goroutine each (context.AfterFunc), gone once they have run.
	waitFor(t, "their goroutines gone", func() bool { return runtime.NumGoroutine()-before <= maxExtraGoroutines })
}
