package events_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/storegraph/storegraph/events"
	"github.com/storegraph/storegraph/storage"
)

// maxIdleSubscriptionBytes is what an idle subscription may cost, its goroutine included: a
// process holds up to MAX_STREAM_CONNECTIONS of them, each with subscriptions.
const maxIdleSubscriptionBytes = 20 << 10

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
	ctx, cancel := context.WithCancel(t.Context())
	subs := make([]<-chan storage.Event, n)
	for i := range subs {
		var err error
		if subs[i], err = h.Subscribe(ctx, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	// One event each, so that every goroutine has run its delivery path and is idle again.
	l.commit(1)
	for _, ch := range subs {
		receive(t, ch, 1)
	}
	per := (int64(inUse()) - int64(before)) / n
	t.Logf("an idle subscription costs %d bytes (queue of %d)", per, events.DefaultQueueSize)
	if per > maxIdleSubscriptionBytes {
		t.Errorf("an idle subscription costs %d bytes, want at most %d", per, maxIdleSubscriptionBytes)
	}

	runtime.KeepAlive(subs)
	cancel()
	waitFor(t, "all gone", func() bool { return h.Subscribers() == 0 })
}
