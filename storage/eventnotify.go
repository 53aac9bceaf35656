package storage

import (
	"context"
	"database/sql"
	"log/slog"
	"time"
)

// notifyTimeout bounds one notification of the event listeners.
const notifyTimeout = 5 * time.Second

// notifyInterval is the least time between two notifications: however fast this process
// writes, it notifies at most once per interval, and a listener stamps and reads once per
// notification. A commit after a quiet spell is notified at once.
const notifyInterval = 5 * time.Millisecond

// eventNotifier tells the event listeners of every process (ListenEvents, on Postgres) that
// writes of this DB have committed. The triggers do not notify: a transaction that calls
// pg_notify takes a lock of the whole server at its COMMIT and holds it through the WAL
// flush, so writers that notified committed one at a time (16 concurrent writers managed
// half the writes per second, and lost group commit). Instead each commit only signals this
// notifier, which sends one notification at a time from the pool, in a transaction of its
// own with nothing to flush; commits while one is being sent are covered by the next.
// Writes made other than through a DB (psql, say) wake nobody until the next write that is.
type eventNotifier struct {
	pool    *sql.DB
	channel string
	log     *slog.Logger
	pending chan struct{} // one slot: a notification is owed
	stop    chan struct{}
	done    chan struct{}
}

func startEventNotifier(pool *sql.DB, channel string, log *slog.Logger) *eventNotifier {
	n := &eventNotifier{pool: pool, channel: channel, log: log, pending: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go n.run()
	return n
}

// notify records that a notification is owed; it never waits.
func (n *eventNotifier) notify() {
	select {
	case n.pending <- struct{}{}:
	default: // already owed
	}
}

func (n *eventNotifier) run() {
	defer close(n.done)
	for {
		select {
		case <-n.pending:
		case <-n.stop:
			n.flush()
			return
		}
		n.send()
		// Commits during the pause are covered by one notification after it.
		pause := time.NewTimer(notifyInterval)
		select {
		case <-pause.C:
		case <-n.stop:
			pause.Stop()
			n.flush()
			return
		}
	}
}

// flush sends the notification owed, if one is: a write committed just before Close still
// wakes the listeners, so that a command that writes once and exits does not leave the servers
// unaware of it.
func (n *eventNotifier) flush() {
	select {
	case <-n.pending:
		n.send()
	default:
	}
}

func (n *eventNotifier) send() {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	if _, err := n.pool.ExecContext(ctx, "SELECT pg_notify($1, '')", n.channel); err != nil {
		n.log.Warn("could not notify the event listeners", "error", err)
	}
}

// close sends what is owed and stops the notifier.
func (n *eventNotifier) close() {
	close(n.stop)
	<-n.done
}
