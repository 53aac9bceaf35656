package events

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// Retry delays. A failing log (the database is down) is retried slowly, and sooner when the
// listener wakes the hub, which it does once it has reconnected. A stamping backlog left
// over (more than one call stamps) is taken up again quickly.
const (
	failureRetryMin = 100 * time.Millisecond
	failureRetryMax = 5 * time.Second
	pendingRetryMin = 10 * time.Millisecond
	pendingRetryMax = 200 * time.Millisecond
)

// backoff is a delay that doubles from min up to max, one step per call to next.
type backoff struct {
	min, max, last time.Duration
}

func (b *backoff) next() time.Duration {
	b.last = min(max(2*b.last, b.min), b.max)
	return b.last
}

// pause waits d, or until early fires; false when ctx ended first.
func pause(ctx context.Context, d time.Duration, early <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-early:
	case <-ctx.Done():
		return false
	}
	return true
}

// outage logs the first failure of a run of failures and the recovery that ends it: a
// database down for an hour costs two lines, not one per retry of every reader.
type outage struct {
	log   *slog.Logger
	what  string
	since atomic.Int64 // Unix nanoseconds of the outage's first failure; 0 while working
}

func (o *outage) failed(err error) {
	if o.since.CompareAndSwap(0, time.Now().UnixNano()) {
		o.log.Error(o.what+" failing; retrying", "error", err.Error())
	}
}

func (o *outage) recovered() {
	if s := o.since.Load(); s != 0 && o.since.CompareAndSwap(s, 0) {
		o.log.Info(o.what+" working again", "after", time.Since(time.Unix(0, s)).Round(time.Millisecond).String())
	}
}

// retry calls op until it succeeds, pausing with a growing delay after each failure (cut
// short by early); false when ctx ended first.
func (o *outage) retry(ctx context.Context, early <-chan struct{}, op func(context.Context) error) bool {
	wait := backoff{min: failureRetryMin, max: failureRetryMax}
	for {
		err := op(ctx)
		if err == nil {
			o.recovered()
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		o.failed(err)
		if !pause(ctx, wait.next(), early) {
			return false
		}
	}
}
