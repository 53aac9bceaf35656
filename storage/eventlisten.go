package storage

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
)

// eventsChannel is the Postgres channel of the event listeners of the DSN's search_path
// (see eventNotifier): a channel is the whole database's, and listeners of other schemas
// (other deployments, other tests) on one channel would wake at every write of this one.
// Every process on the same tables has the same search_path in its DSN. The path is hashed
// to keep the name within Postgres's 63 bytes.
func eventsChannel(dsn string) string {
	searchPath := ""
	if cfg, err := pgx.ParseConfig(dsn); err == nil {
		searchPath = cfg.RuntimeParams["search_path"]
	}
	sum := sha256.Sum256([]byte(searchPath))
	return "storegraph_events_" + hex.EncodeToString(sum[:8])
}

// The listener's reconnection backoff: the first attempt after a lost connection waits
// listenRetryMin, each failure doubles the wait, up to listenRetryMax.
const (
	listenRetryMin = 100 * time.Millisecond
	listenRetryMax = 5 * time.Second
)

// ListenEvents calls wake whenever the log may have grown, until ctx ends; it then returns
// nil. wake runs on the listener's goroutine and must not block: it should only signal the
// reader, which stamps and reads the log itself.
//
// On Postgres it keeps a connection of its own, outside the pool, listening for the
// notifications every DB sends after its writes commit (whichever process it is in), and
// calls wake for each, and also each time it has (re)connected and is listening:
// notifications sent while it was not are lost, and the reader catches up from the log. A
// lost connection is logged and reconnected with backoff. Each schema has a channel of its
// own. The connection's application_name is the DSN's (or
// "storegraph") followed by " events".
//
// On SQLite it calls wake once at the start, for the same reason, and after every write of
// this DB commits. Writes by other processes do not wake it.
func (db *DB) ListenEvents(ctx context.Context, wake func()) error {
	if db.dialect != Postgres {
		db.commits.listen(ctx, wake)
		return nil
	}
	cfg, err := pgx.ParseConfig(db.dsn)
	if err != nil {
		// Open parsed the same DSN; pgx's error could quote its password.
		return fmt.Errorf("listen for events: %w: postgres URL parameters not understood", ErrUnsupportedURL)
	}
	cfg.RuntimeParams["application_name"] = cmp.Or(cfg.RuntimeParams["application_name"], "storegraph") + " events"

	c := &listenConnection{db: db, cfg: cfg, wake: wake}
	l := &pgxlisten.Listener{
		Connect:  c.connect,
		LogError: c.logError,
		// The wait before reconnecting is connect's, which backs off.
		ReconnectDelay: -1,
	}
	l.Handle(eventsChannel(db.dsn), c)
	if err := l.Listen(ctx); ctx.Err() == nil {
		return fmt.Errorf("listen for events: %w", err)
	}
	return nil
}

// listenConnection is the state of one ListenEvents call on Postgres. pgxlisten calls its
// methods one at a time, from the goroutine of Listen.
type listenConnection struct {
	db   *DB
	cfg  *pgx.ConnConfig
	wake func()
	// retry is the wait before the next connection attempt: none before the first.
	retry     time.Duration
	connected bool // once, ever: the next connection is a reconnection
}

func (c *listenConnection) connect(ctx context.Context) (*pgx.Conn, error) {
	if c.retry > 0 {
		t := time.NewTimer(c.retry)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c.retry = min(max(2*c.retry, listenRetryMin), listenRetryMax)
	return pgx.ConnectConfig(ctx, c.cfg)
}

// HandleBacklog is called once the connection listens: whatever was committed before, the
// reader finds in the log.
func (c *listenConnection) HandleBacklog(ctx context.Context, _ string, conn *pgx.Conn) error {
	if c.connected {
		c.db.log.Info("event listener reconnected", "pid", conn.PgConn().PID())
	}
	c.connected = true
	c.retry = listenRetryMin
	c.wake()
	return nil
}

func (c *listenConnection) HandleNotification(context.Context, *pgconn.Notification, *pgx.Conn) error {
	c.wake()
	return nil
}

func (c *listenConnection) logError(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // the caller stopped listening
	}
	c.db.log.Warn("event listener has no connection; retrying", "error", err, "retry_in", c.retry)
}

// commitListeners are the ListenEvents calls of a SQLite DB, each woken through a channel of
// one slot: a write never waits for a listener, and wakes that arrive while one is pending
// merge into it.
type commitListeners struct {
	mu    sync.Mutex
	wakes map[chan struct{}]struct{}
}

// notify wakes every listener; write calls it after each commit.
func (c *commitListeners) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for w := range c.wakes {
		select {
		case w <- struct{}{}:
		default: // already woken, not yet awake
		}
	}
}

func (c *commitListeners) listen(ctx context.Context, wake func()) {
	w := make(chan struct{}, 1)
	c.mu.Lock()
	if c.wakes == nil {
		c.wakes = make(map[chan struct{}]struct{})
	}
	c.wakes[w] = struct{}{}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.wakes, w)
		c.mu.Unlock()
	}()

	wake()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w:
			wake()
		}
	}
}
