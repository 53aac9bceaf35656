package events

import (
	"context"
	"errors"
	"fmt"

	"github.com/storegraph/storegraph/storage"
)

// ErrCursorExpired is a cursor the log no longer continues from: events after it have been
// pruned (EVENT_RETENTION), or it is ahead of the log's present, so not one of this log's.
// Either way its events cannot all be delivered: the client must refetch and start afresh.
var ErrCursorExpired = errors.New("cursor expired")

// subscriber is one subscription. queue and from are guarded by the hub's mutex; the other
// fields belong to the subscription's goroutine.
type subscriber struct {
	// queue is the live feed, nil until the first join; the hub closes it when it is full.
	queue chan *storage.Event
	// from is the seq the subscriber joined the live feed after.
	from int64

	hub   *Hub
	match func(storage.Event) bool
	out   chan<- storage.Event
	// last is the seq of the last event delivered or filtered out: everything up to it is
	// done with.
	last int64
}

// Subscribe returns every event with seq > *after (or, when after is nil, from the present)
// that match accepts, exactly once, in seq order. match runs on the subscription's goroutine;
// nil accepts everything. The channel is unbuffered: a consumer that does not keep up makes
// the subscription lag and read the log itself, never makes the hub wait or hold more than
// QueueSize events for it. The channel is closed when ctx ends, when Run stops, and when the
// subscription has fallen so far behind that the log no longer holds what it has yet to
// deliver (resuming from its last cursor then reports ErrCursorExpired).
func (h *Hub) Subscribe(ctx context.Context, after *int64, match func(storage.Event) bool) (<-chan storage.Event, error) {
	from, err := h.origin(ctx, after)
	if err != nil {
		return nil, err
	}
	out := make(chan storage.Event)
	s := &subscriber{hub: h, match: match, out: out, last: from}
	h.mu.Lock()
	h.count++
	h.mu.Unlock()
	q := h.join(s)

	ctx, cancel := context.WithCancel(ctx)
	unlink := context.AfterFunc(h.stopped, cancel)
	go func() {
		defer cancel()
		defer unlink()
		s.run(ctx, q)
	}()
	return out, nil
}

// origin is the seq a subscription starts after.
func (h *Hub) origin(ctx context.Context, after *int64) (int64, error) {
	h.mu.Lock()
	position, ready := h.position, h.ready
	h.mu.Unlock()
	if after == nil {
		if ready {
			return position, nil
		}
		return h.latest(ctx)
	}
	pruned, err := h.log.EventsPrunedThrough(ctx)
	if err != nil {
		return 0, fmt.Errorf("events pruned: %w", err)
	}
	if *after < pruned {
		return 0, ErrCursorExpired
	}
	if ready && *after <= position {
		return *after, nil
	}
	// A cursor names a stamped event, and the present never goes back: one past it is from
	// another database (or one restored from a backup), whose next events would never come.
	latest, err := h.latest(ctx)
	if err != nil {
		return 0, err
	}
	if *after > latest {
		return 0, ErrCursorExpired
	}
	return *after, nil
}

func (h *Hub) latest(ctx context.Context) (int64, error) {
	seq, err := h.log.LatestEventSeq(ctx)
	if err != nil {
		return 0, fmt.Errorf("latest event: %w", err)
	}
	return seq, nil
}

// join puts s on the live feed and returns its queue, if the hub has broadcast nothing
// after s.last; else nil, and s has more to read from the log first.
//
// This is the seam between the log and the feed, and the lock is what makes it exact: the
// hub broadcasts each event and advances its position under the same lock, so when s joins
// with s.last >= position, every event up to position is behind s, and every later one will
// reach its queue. Those up to s.last (which may be ahead: s read the log after the hub did)
// arrive a second time and are dropped by seq. Before Run has read the present, s joins
// from wherever it is, and Run sends it back to the log if it starts ahead of s.
func (h *Hub) join(s *subscriber) chan *storage.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ready && s.last < h.position {
		return nil
	}
	s.from = s.last
	s.queue = make(chan *storage.Event, h.opts.QueueSize)
	h.live[s] = struct{}{}
	return s.queue
}

func (h *Hub) leave(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.live, s)
	h.count--
}

// run delivers from the live feed q, and from the log whenever q is nil (not joined yet) or
// closed (lagging), until ctx ends.
func (s *subscriber) run(ctx context.Context, q chan *storage.Event) {
	defer close(s.out)
	defer s.hub.leave(s)
	for {
		if q == nil {
			if q = s.catchUp(ctx); q == nil {
				return
			}
		}
		select {
		case e, ok := <-q:
			if !ok {
				q = nil
				continue
			}
			if !s.deliver(ctx, *e) {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// catchUp reads the log after s.last until s can join the live feed, and returns its queue;
// nil when ctx ended or the log no longer holds the events after s.last.
func (s *subscriber) catchUp(ctx context.Context) chan *storage.Event {
	h := s.hub
	// No larger than the queue: a lagging subscriber holds no more events than a live one.
	size := min(h.opts.PageSize, h.opts.QueueSize)
	for {
		var page []storage.Event
		var pruned int64
		select {
		case h.catchUpTurn <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		read := h.reading.retry(ctx, nil, func(ctx context.Context) error {
			var err error
			if page, err = h.log.ReadEvents(ctx, s.last, size); err != nil {
				return fmt.Errorf("read events after %d: %w", s.last, err)
			}
			// Asked after the page was read, so it covers every deletion the page missed.
			if pruned, err = h.log.EventsPrunedThrough(ctx); err != nil {
				return fmt.Errorf("events pruned: %w", err)
			}
			return nil
		})
		<-h.catchUpTurn
		if !read {
			return nil
		}
		if pruned > s.last {
			h.opts.Log.Warn("subscription ended: it fell behind the events kept", "after", s.last, "pruned_through", pruned)
			return nil
		}
		for _, e := range page {
			if !s.deliver(ctx, e) {
				return nil
			}
		}
		if len(page) < size {
			if q := h.join(s); q != nil {
				return q
			}
		}
	}
}

// deliver sends e to the consumer unless it is done with already or match refuses it;
// false when ctx ended first.
func (s *subscriber) deliver(ctx context.Context, e storage.Event) bool {
	if e.Seq <= s.last {
		return true
	}
	s.last = e.Seq
	if s.match != nil && !s.match(e) {
		return true
	}
	select {
	case s.out <- e:
		return true
	case <-ctx.Done():
		return false
	}
}
