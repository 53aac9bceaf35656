package events_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storegraph/storegraph/events"
	"github.com/storegraph/storegraph/storage"
)

// discardLog is the log of hubs whose lines no test reads.
var discardLog = slog.New(slog.DiscardHandler)

// deadline bounds every wait: a test that gets nothing by then has failed, but nothing is
// expected to take anywhere near it. It is long because a transaction anywhere on the
// Postgres server holds stamping back, and other packages' tests hold some open on purpose
// (a COMMIT kept waiting, up to 20s).
const deadline = 30 * time.Second

// runHub runs a hub over log until the test ends.
func runHub(t *testing.T, log events.Log, o events.Options) *events.Hub {
	t.Helper()
	h := newHub(log, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// newHub is a hub whose log lines go nowhere unless o says where.
func newHub(log events.Log, o events.Options) *events.Hub {
	if o.Log == nil {
		o.Log = discardLog
	}
	return events.NewHub(log, o)
}

// subscribe subscribes until the test ends, or fails it.
func subscribe(t *testing.T, h *events.Hub, after *int64, match func(storage.Event) bool) <-chan storage.Event {
	t.Helper()
	ch, err := subscribeEvents(t.Context(), h, after, match, nil)
	if err != nil {
		t.Fatalf("Subscribe(after %v): %v", deref(after), err)
	}
	return ch
}

// subscribeEvents subscribes to the events themselves, those match accepts (nil: all).
func subscribeEvents(ctx context.Context, h *events.Hub, after *int64, match func(storage.Event) bool, notify func()) (<-chan storage.Event, error) {
	return events.Subscribe(ctx, h, after, func(e *storage.Event) (storage.Event, bool) {
		return *e, match == nil || match(*e)
	}, notify)
}

// receive is the seqs of the next n events on ch.
func receive(t *testing.T, ch <-chan storage.Event, n int) []int64 {
	t.Helper()
	timeout := time.NewTimer(deadline)
	defer timeout.Stop()
	got := make([]int64, 0, n)
	for len(got) < n {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed after %v, want %d events", got, n)
			}
			got = append(got, e.Seq)
		case <-timeout.C:
			t.Fatalf("got %v within %s, want %d events", got, deadline, n)
		}
	}
	return got
}

// receiveUntilClosed is the seqs of the events on ch until it is closed.
func receiveUntilClosed(t *testing.T, ch <-chan storage.Event) []int64 {
	t.Helper()
	timeout := time.NewTimer(deadline)
	defer timeout.Stop()
	var got []int64
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return got
			}
			got = append(got, e.Seq)
		case <-timeout.C:
			t.Fatalf("channel still open after %s (got %v)", deadline, got)
		}
	}
}

// waitFor waits until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(deadline); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("not %s within %s", what, deadline)
		}
		time.Sleep(time.Millisecond)
	}
}

// seqs is from, from+1, …, to.
func seqs(from, to int64) []int64 {
	var s []int64
	for seq := from; seq <= to; seq++ {
		s = append(s, seq)
	}
	return s
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

// logBuffer collects log lines from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count is how many lines contain s.
func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}
