package auth

import (
	"context"
	"sync"
	"time"
)

// SessionState is what a request needs to know about its session: whether it still counts,
// and its user's current role.
type SessionState struct {
	UserID int64
	Admin  bool
	Active bool
}

// SessionCache remembers sessions' states for at most ttl, shared by every request of the
// process: a revocation or role change made by another process is seen within ttl, one made
// by this process (which calls Forget) at once, and a busy client costs one lookup per ttl
// rather than one per request.
type SessionCache struct {
	ttl        time.Duration
	maxEntries int
	lookup     func(ctx context.Context, sessionID int64) (SessionState, error)

	mu      sync.Mutex
	entries map[int64]sessionEntry
	// forgets counts Forget calls: a lookup that was under way during one may have read the
	// state from before the revocation, so its result is not kept.
	forgets uint64
}

type sessionEntry struct {
	state     SessionState
	fetchedAt time.Time
}

// NewSessionCache returns a cache that keeps each state looked up for ttl, holding at most
// maxEntries (at least 1) states.
func NewSessionCache(ttl time.Duration, maxEntries int, lookup func(ctx context.Context, sessionID int64) (SessionState, error)) *SessionCache {
	return &SessionCache{
		ttl:        ttl,
		maxEntries: max(maxEntries, 1),
		lookup:     lookup,
		entries:    make(map[int64]sessionEntry),
	}
}

// Get returns the state of session sessionID at now: the one looked up less than ttl before
// now, or else a new lookup's. A lookup's error is returned as it is, and not kept.
func (c *SessionCache) Get(ctx context.Context, sessionID int64, now time.Time) (SessionState, error) {
	c.mu.Lock()
	e, ok := c.entries[sessionID]
	forgets := c.forgets
	c.mu.Unlock()
	if ok && now.Sub(e.fetchedAt) < c.ttl {
		return e.state, nil
	}

	state, err := c.lookup(ctx, sessionID)
	if err != nil {
		return SessionState{}, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forgets != forgets {
		return state, nil
	}
	if _, ok := c.entries[sessionID]; !ok && len(c.entries) >= c.maxEntries {
		// Any entry will do: each is worth at most ttl of lookups, and finding the oldest would
		// cost a scan or an ordering on every Get.
		for id := range c.entries {
			delete(c.entries, id)
			break
		}
	}
	c.entries[sessionID] = sessionEntry{state: state, fetchedAt: now}
	return state, nil
}

// Forget drops what the cache knows of session sessionID: this process has just revoked it,
// and the next Get must see that.
func (c *SessionCache) Forget(sessionID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, sessionID)
	c.forgets++
}
