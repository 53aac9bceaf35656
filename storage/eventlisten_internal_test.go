package storage

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"
)

// retryLog receives the wait each warning of the listener announces.
type retryLog chan time.Duration

func (r retryLog) Enabled(context.Context, slog.Level) bool { return true }
func (r retryLog) Handle(_ context.Context, rec slog.Record) error {
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "retry_in" {
			r <- a.Value.Duration()
		}
		return true
	})
	return nil
}
func (r retryLog) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r retryLog) WithGroup(string) slog.Handler      { return r }

// While the server cannot be reached the listener retries, waiting twice as long each time,
// and still returns as soon as its context ends.
func TestListenEventsBacksOffWhileTheServerIsUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more: connections are refused

	retries := make(retryLog, 10)
	db := &DB{dialect: Postgres, dsn: "postgres://nobody@" + addr + "/none?sslmode=disable", log: slog.New(retries)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- db.ListenEvents(ctx, func() { t.Error("woken without a connection") }) }()

	var got []time.Duration
	for len(got) < 3 {
		select {
		case d := <-retries:
			got = append(got, d)
		case <-time.After(10 * time.Second):
			t.Fatalf("retries so far %v, want 3", got)
		}
	}
	if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("waits before retrying = %v, want %v", got, want)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenEvents ended with %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenEvents did not return after its context ended")
	}
}
