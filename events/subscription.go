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

// subscriber is one subscription. Its channel has one sender at a time: the hub, under its
// mutex, while the subscriber is live; its catch-up goroutine while it lags. That sender
// alone sends, advances last and closes the channel, so no send can follow the close and
// the close happens once.
type subscriber struct {
	hub  *Hub
	feed feed
	// ctx is the subscription's own; a catch-up goroutine reads the log under a child of it.
	ctx context.Context

	// The fields below are guarded by the hub's mutex, except last while a catch-up goroutine
	// sends: it is that goroutine's then.

	// last is the seq of the last event sent or filtered out: everything up to it is done with.
	last int64
	// from is the seq the subscriber joined the live feed after.
	from int64
	// stopCatchingUp cancels the catch-up goroutine; nil while there is none.
	stopCatchingUp context.CancelFunc
	// done is set once the channel is closed, or its catch-up goroutine was told to close it.
	done bool
	// unlink stops the call of end that ctx's end would make.
	unlink func() bool
}

// feed is the typed side of a subscriber: its channel and what it sends on it.
type feed interface {
	// offer sends e's value without waiting; false when the channel is full. An event the
	// subscriber does not take counts as sent.
	offer(e *storage.Event) bool
	// send sends e's value, waiting for room; false when ctx ended first.
	send(ctx context.Context, e *storage.Event) bool
	close()
	queued() int
}

// Subscribe returns the values convert makes of the events with seq > *after (or, when after
// is nil, from the present), exactly once, in seq order; an event for which convert returns
// false is not this subscription's and is skipped. convert may run on the hub's goroutine,
// under its lock, once per subscriber of the event, and is given the same *storage.Event for
// every live subscriber of one event (read-only): it must be cheap, and can build the
// value once per event for all of them.
//
// The channel holds up to QueueSize values. A consumer that lets it fill makes the
// subscription lag: it reads the log itself (at most CatchUpReaders subscriptions at once)
// until it has caught up, never making the hub wait or hold more than the channel for it.
// The channel is closed when ctx ends, when Run stops, and when the subscription has fallen
// so far behind that the log no longer holds what it has yet to deliver (resuming from its
// last cursor then reports ErrCursorExpired).
//
// notify, when not nil, is called once after each value is put on the channel and once after
// the channel is closed, so that a consumer can receive exactly once per call without
// waiting. It may be called with the hub's lock held: it must return at once and not call
// into the hub.
func Subscribe[T any](ctx context.Context, h *Hub, after *int64, convert func(*storage.Event) (T, bool), notify func()) (<-chan T, error) {
	from, err := h.origin(ctx, after)
	if err != nil {
		return nil, err
	}
	if notify == nil {
		notify = func() {}
	}
	f := &channelFeed[T]{ch: make(chan T, h.opts.QueueSize), convert: convert, notify: notify}
	s := &subscriber{hub: h, feed: f, ctx: ctx, last: from}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.all[s] = struct{}{}
	// Under the lock, so that end, which takes it, sees it set however soon it runs.
	s.unlink = context.AfterFunc(ctx, s.end)
	switch {
	case h.stopped.Err() != nil:
		// Run has stopped, and endAll with it: nothing more will come.
		s.endLocked()
	case !h.join(s):
		h.lag(s)
	}
	return f.ch, nil
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

// join puts s on the live feed, unless the hub has broadcast something after s.last: then
// false, and s has more to read from the log first. h.mu must be held.
//
// This is the seam between the log and the feed, and the lock is what makes it exact: the
// hub broadcasts each event and advances its position under the same lock, so when s joins
// with s.last >= position, every event up to position is behind s, and every later one will
// be offered to it. Those up to s.last (which may be ahead: s read the log after the hub did)
// are offered a second time and dropped by seq. Before Run has read the present, s joins
// from wherever it is, and Run sends it back to the log if it starts ahead of s.
func (h *Hub) join(s *subscriber) bool {
	if h.ready && s.last < h.position {
		return false
	}
	s.from = s.last
	h.live[s] = struct{}{}
	return true
}

// end closes the subscription, or has its catch-up goroutine close it: ctx ended.
func (s *subscriber) end() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.endLocked()
}

// endLocked is end with h.mu held.
func (s *subscriber) endLocked() {
	if s.done {
		return
	}
	s.done = true
	if s.stopCatchingUp != nil {
		s.stopCatchingUp()
		return
	}
	delete(s.hub.live, s)
	s.close()
}

// close closes the channel and forgets the subscription. h.mu must be held.
func (s *subscriber) close() {
	s.unlink()
	delete(s.hub.all, s)
	s.feed.close()
}

// offer offers e to the live subscriber s; false when its channel is full. h.mu must be held.
func (s *subscriber) offer(e *storage.Event) bool {
	if e.Seq <= s.last {
		return true
	}
	if !s.feed.offer(e) {
		return false
	}
	s.last = e.Seq
	return true
}

// catchUp reads the log after s.last and sends what it finds until s can join the live
// feed; it closes the channel instead when ctx ends or the log no longer holds the events
// after s.last.
func (s *subscriber) catchUp(ctx context.Context) {
	if s.readLog(ctx) {
		return // live: s is the hub's again
	}
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.caughtUp()
	s.done = true
	s.close()
}

// caughtUp ends the catch-up's turn as s's sender. h.mu must be held.
func (s *subscriber) caughtUp() {
	s.stopCatchingUp()
	s.stopCatchingUp = nil
}

// readLog is catchUp's reading and sending; true once s is live again.
func (s *subscriber) readLog(ctx context.Context) bool {
	h := s.hub
	// No larger than the channel: a lagging subscriber holds no more events than a live one.
	size := min(h.opts.PageSize, h.opts.QueueSize)
	for ctx.Err() == nil {
		var page []storage.Event
		var pruned int64
		select {
		case h.catchUpTurn <- struct{}{}:
		case <-ctx.Done():
			return false
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
			return false
		}
		if pruned > s.last {
			h.opts.Log.Warn("subscription ended: it fell behind the events kept", "after", s.last, "pruned_through", pruned)
			return false
		}
		for i := range page {
			if !s.feed.send(ctx, &page[i]) {
				return false
			}
			s.last = page[i].Seq
		}
		if len(page) < size && s.rejoin() {
			return true
		}
	}
	return false
}

// rejoin puts s back on the live feed if it has caught up and is not ending. In the same
// turn of the lock as the join, so that the hub finds s either catching up or live, never
// live with a catch-up goroutine.
func (s *subscriber) rejoin() bool {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.done || !h.join(s) {
		return false
	}
	s.caughtUp()
	return true
}

// channelFeed is a feed of the values convert makes.
type channelFeed[T any] struct {
	ch      chan T
	convert func(*storage.Event) (T, bool)
	notify  func()
}

func (f *channelFeed[T]) offer(e *storage.Event) bool {
	v, ok := f.convert(e)
	if !ok {
		return true
	}
	select {
	case f.ch <- v:
		f.notify()
		return true
	default:
		return false
	}
}

func (f *channelFeed[T]) send(ctx context.Context, e *storage.Event) bool {
	v, ok := f.convert(e)
	if !ok {
		return true
	}
	select {
	case f.ch <- v:
		f.notify()
		return true
	case <-ctx.Done():
		return false
	}
}

func (f *channelFeed[T]) close() {
	close(f.ch)
	f.notify()
}

func (f *channelFeed[T]) queued() int { return len(f.ch) }
