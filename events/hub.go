package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storegraph/storegraph/storage"
)

// Log is the change log as storage keeps it; *storage.DB is one.
type Log interface {
	ReadEvents(ctx context.Context, after int64, limit int) ([]storage.Event, error)
	StampEvents(ctx context.Context) (pending bool, err error)
	LatestEventSeq(ctx context.Context) (int64, error)
	EventsPrunedThrough(ctx context.Context) (int64, error)
	EventsWaiting(ctx context.Context, after int64) (bool, error)
	ListenEvents(ctx context.Context, wake func()) error
}

// Options tune a Hub. Zero fields keep the defaults.
type Options struct {
	// QueueSize is how many events a subscription may have waiting for its consumer before
	// it lags (default 64). It bounds what a slow consumer costs the process.
	QueueSize int
	// PageSize is how many events the hub reads from the log per query (default 256).
	PageSize int
	// CatchUpReaders bounds the lagging subscriptions reading the log at once (default 2):
	// however many fall behind, they take no more of the database's connections than this,
	// and leave the rest to writes. The others wait their turn.
	CatchUpReaders int
	// Sweep is how long the hub goes without a wake-up before it looks at the log itself
	// (default 1 s): a write made outside the server (psql, another program, another process
	// on a SQLite file) is recorded by the database's triggers but wakes nobody, and reaches
	// the subscribers at the next look. The look is one read, only while no wake-up comes.
	Sweep time.Duration
	// Log receives the log's outages and recoveries (default slog.Default()).
	Log *slog.Logger
}

// Hub reads the change log once for the whole process and fans it out to subscriptions.
type Hub struct {
	log  Log
	opts Options
	// wake holds at most one unread wake-up, so that a burst of commits costs one read.
	wake chan struct{}
	// reading and listening log the log's and the listener's outages.
	reading, listening outage
	// catchUpTurn is taken by a lagging subscription for each page it reads itself.
	catchUpTurn chan struct{}
	// stopped ends with Run, and every subscription with it.
	stopped context.Context
	stop    context.CancelFunc
	running atomic.Bool

	mu sync.Mutex
	// position is the seq of the last event broadcast: every live subscriber has been
	// offered every event up to it, and only later ones are still to come. Only Run writes
	// it; it is meaningful once ready, when Run has read the log's present.
	position int64
	ready    bool
	live     map[*subscriber]struct{} // the subscribers taking events from the hub
	all      map[*subscriber]struct{} // every open subscription, live or catching up
}

// Defaults of Options.
const (
	DefaultQueueSize      = 64
	DefaultPageSize       = 256
	DefaultCatchUpReaders = 2
	DefaultSweep          = time.Second
)

// followInterval is the least time between the starts of two passes over the log. Under a
// stream of commits a pass stamps and reads all that committed since the last, so the log
// costs the writers at most one stamping statement (and the readers one query) per interval
// however fast they write, at the price of up to that much latency while they do; an event
// after a quiet spell goes out at once.
const followInterval = 5 * time.Millisecond

// errRunTwice is a second call of Run: its position and subscribers belong to the first.
var errRunTwice = errors.New("events: Hub.Run called twice")

// errListenEnded is ListenEvents returning without an error before its context ended.
var errListenEnded = errors.New("listening ended")

// NewHub returns a hub over log. Nothing is read until Run.
func NewHub(log Log, o Options) *Hub {
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.CatchUpReaders <= 0 {
		o.CatchUpReaders = DefaultCatchUpReaders
	}
	if o.Sweep <= 0 {
		o.Sweep = DefaultSweep
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	h := &Hub{log: log, opts: o, wake: make(chan struct{}, 1), live: make(map[*subscriber]struct{}),
		all: make(map[*subscriber]struct{}), catchUpTurn: make(chan struct{}, o.CatchUpReaders)}
	h.reading = outage{log: o.Log, what: "event log"}
	h.listening = outage{log: o.Log, what: "event listener"}
	h.stopped, h.stop = context.WithCancel(context.Background())
	context.AfterFunc(h.stopped, h.endAll)
	return h
}

// Run follows the log until ctx ends, then closes every subscription's channel and returns
// nil. It survives the log failing: it logs the outage once, retries, and catches up when the
// log is back. Call it once.
func (h *Hub) Run(ctx context.Context) error {
	if h.running.Swap(true) {
		return errRunTwice
	}
	var listener sync.WaitGroup
	listener.Go(func() { h.listen(ctx) })
	defer listener.Wait()
	defer h.stop()

	if !h.reading.retry(ctx, h.wake, h.begin) {
		return nil
	}
	// The first pass stamps what committed while nobody was stamping (and a wake-up the
	// retries above may have taken).
	sweep := time.NewTimer(h.opts.Sweep)
	defer sweep.Stop()
	for {
		began := time.Now()
		h.follow(ctx)
		if !h.await(ctx, sweep) {
			return nil
		}
		if !pause(ctx, time.Until(began.Add(followInterval)), nil) {
			return nil
		}
	}
}

// await waits for a wake-up, or for the log to hold what no wake-up announced, which it
// looks for each time the sweep interval passes without one. It says false once ctx ends.
func (h *Hub) await(ctx context.Context, sweep *time.Timer) bool {
	for {
		sweep.Reset(h.opts.Sweep)
		select {
		case <-ctx.Done():
			return false
		case <-h.wake:
			return true
		case <-sweep.C:
			// A failing log is the next pass's to retry and report.
			if waiting, err := h.log.EventsWaiting(ctx, h.position); waiting || err != nil {
				return true
			}
		}
	}
}

// Subscribers is the number of open subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.all)
}

// endAll closes every subscription once Run has stopped: one call for the hub, rather than
// one registered with h.stopped per subscription.
func (h *Hub) endAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.all {
		s.endLocked()
	}
}

// listen keeps the listener running, which wakes the hub on every commit and reconnection.
func (h *Hub) listen(ctx context.Context) {
	wait := backoff{min: failureRetryMin, max: failureRetryMax}
	for {
		err := h.log.ListenEvents(ctx, h.poke)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errListenEnded
		}
		h.listening.failed(fmt.Errorf("listen for events: %w", err))
		if !pause(ctx, wait.next(), nil) {
			return
		}
	}
}

// poke wakes the hub without ever waiting: one pending wake-up covers any number.
func (h *Hub) poke() {
	h.listening.recovered()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// begin starts the hub at the log's present. Subscribers that joined before, from an
// earlier seq, are sent to catch up from the log: the hub will not broadcast what precedes
// its start.
func (h *Hub) begin(ctx context.Context) error {
	seq, err := h.log.LatestEventSeq(ctx)
	if err != nil {
		return fmt.Errorf("latest event: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.position, h.ready = seq, true
	for s := range h.live {
		if s.from < seq {
			h.lag(s)
		}
	}
	return nil
}

// follow stamps what has committed and broadcasts what is stamped, again while a backlog
// larger than one call stamps remains.
func (h *Hub) follow(ctx context.Context) {
	wait := backoff{min: pendingRetryMin, max: pendingRetryMax}
	for {
		var pending bool
		if !h.reading.retry(ctx, h.wake, func(ctx context.Context) error {
			var err error
			if pending, err = h.log.StampEvents(ctx); err != nil {
				return fmt.Errorf("stamp events: %w", err)
			}
			return h.readAll(ctx)
		}) || !pending {
			return
		}
		// A commit wakes the hub, which cuts the wait short.
		if !pause(ctx, wait.next(), h.wake) {
			return
		}
	}
}

// readAll broadcasts every stamped event after the hub's position. With nobody live it only
// moves the position to the log's present: whoever joins later is behind it, and reads what
// it missed from the log itself.
func (h *Hub) readAll(ctx context.Context) error {
	if h.liveCount() == 0 {
		latest, err := h.log.LatestEventSeq(ctx)
		if err != nil {
			return fmt.Errorf("latest event: %w", err)
		}
		if h.skipTo(latest) {
			return nil
		}
		// Someone joined meanwhile, at the position: they are owed what follows it.
	}
	for {
		page, err := h.log.ReadEvents(ctx, h.position, h.opts.PageSize)
		if err != nil {
			return fmt.Errorf("read events after %d: %w", h.position, err)
		}
		h.broadcast(page)
		if len(page) < h.opts.PageSize {
			return nil
		}
	}
}

func (h *Hub) liveCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.live)
}

// skipTo moves the position to seq if nobody is live, and says whether it did.
func (h *Hub) skipTo(seq int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.live) > 0 {
		return false
	}
	h.position = max(h.position, seq)
	return true
}

// broadcast offers each event to every live subscriber, never waiting for one: a subscriber
// whose channel is full lags instead. The lock is taken per event, so that subscribers join
// and leave between events rather than after a whole page.
func (h *Hub) broadcast(page []storage.Event) {
	for i := range page {
		// One copy shared by every subscriber, so that their conversions can recognise it
		// and build its value once; a copy of its own, so that the value built last does
		// not keep the whole page alive.
		e := new(storage.Event)
		*e = page[i]
		h.mu.Lock()
		for s := range h.live {
			if !s.offer(e) {
				h.lag(s)
			}
		}
		h.position = e.Seq
		h.mu.Unlock()
	}
}

// lag takes s off the live feed and starts a goroutine that reads the log after s.last,
// sends what it finds (waiting for the consumer, who then holds no more than the channel)
// and rejoins the feed. h.mu must be held.
func (h *Hub) lag(s *subscriber) {
	delete(h.live, s)
	ctx, cancel := context.WithCancel(s.ctx)
	s.stopCatchingUp = cancel
	go s.catchUp(ctx)
}
