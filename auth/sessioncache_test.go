package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/storegraph/storegraph/auth"
)

// fakeSessions is a lookup that counts its calls and answers from a map it can change.
type fakeSessions struct {
	mu      sync.Mutex
	states  map[int64]auth.SessionState
	err     error
	lookups map[int64]int
}

func newFakeSessions() *fakeSessions {
	return &fakeSessions{
		states: map[int64]auth.SessionState{
			1: {UserID: 10, Active: true},
			2: {UserID: 20, Admin: true, Active: true},
		},
		lookups: map[int64]int{},
	}
}

func (f *fakeSessions) lookup(_ context.Context, id int64) (auth.SessionState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups[id]++
	if f.err != nil {
		return auth.SessionState{}, f.err
	}
	return f.states[id], nil
}

func (f *fakeSessions) set(id int64, s auth.SessionState, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[id] = s
	f.err = err
}

func (f *fakeSessions) count(id int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookups[id]
}

const cacheTTL = time.Second

var (
	live    = auth.SessionState{UserID: 10, Active: true}
	revoked = auth.SessionState{UserID: 10, Active: false}
	errDown = errors.New("database down")
)

type cacheStep struct {
	at      time.Duration     // after start
	db      auth.SessionState // what a lookup of session 1 finds
	fail    error             // what a lookup returns instead, when not nil
	forget  bool              // call Forget(1) instead of Get(1)
	want    auth.SessionState
	wantErr error
	lookups int // total lookups of session 1 after the step
}

func TestSessionCacheGet(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []cacheStep
	}{
		{
			name: "a state is reused within ttl",
			steps: []cacheStep{
				{at: 0, db: live, want: live, lookups: 1},
				{at: 500 * time.Millisecond, db: live, want: live, lookups: 1},
				{at: cacheTTL - time.Nanosecond, db: live, want: live, lookups: 1},
			},
		},
		{
			name: "a state is looked up again once ttl has passed",
			steps: []cacheStep{
				{at: 0, db: live, want: live, lookups: 1},
				{at: 500 * time.Millisecond, db: revoked, want: live, lookups: 1},
				{at: cacheTTL, db: revoked, want: revoked, lookups: 2},
				{at: cacheTTL + 500*time.Millisecond, db: revoked, want: revoked, lookups: 2},
				{at: 2 * cacheTTL, db: revoked, want: revoked, lookups: 3},
			},
		},
		{
			name: "Forget makes the next Get look up",
			steps: []cacheStep{
				{at: 0, db: live, want: live, lookups: 1},
				{at: 100 * time.Millisecond, db: revoked, forget: true, lookups: 1},
				{at: 100 * time.Millisecond, db: revoked, want: revoked, lookups: 2},
				{at: 200 * time.Millisecond, db: revoked, want: revoked, lookups: 2},
			},
		},
		{
			name: "Forget of an unknown session does nothing",
			steps: []cacheStep{
				{at: 0, db: live, forget: true, lookups: 0},
				{at: 0, db: live, want: live, lookups: 1},
			},
		},
		{
			name: "lookup errors are returned and not kept",
			steps: []cacheStep{
				{at: 0, fail: errDown, wantErr: errDown, lookups: 1},
				{at: 0, fail: errDown, wantErr: errDown, lookups: 2},
				{at: 0, db: live, want: live, lookups: 3},
				{at: 100 * time.Millisecond, db: live, want: live, lookups: 3},
			},
		},
		{
			name: "a failed lookup after ttl does not keep the old state either",
			steps: []cacheStep{
				{at: 0, db: live, want: live, lookups: 1},
				{at: cacheTTL, fail: errDown, wantErr: errDown, lookups: 2},
				{at: cacheTTL, db: live, want: live, lookups: 3},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sessions := newFakeSessions()
			c := auth.NewSessionCache(cacheTTL, 10, sessions.lookup)
			for i, s := range tc.steps {
				sessions.set(1, s.db, s.fail)
				if s.forget {
					c.Forget(1)
				} else {
					got, err := c.Get(context.Background(), 1, start.Add(s.at))
					if got != s.want || err != s.wantErr {
						t.Errorf("step %d: Get at +%v = %+v, %v; want %+v, %v", i, s.at, got, err, s.want, s.wantErr)
					}
				}
				if n := sessions.count(1); n != s.lookups {
					t.Errorf("step %d: %d lookups, want %d", i, n, s.lookups)
				}
			}
		})
	}
}

func TestSessionCacheKeepsSessionsApart(t *testing.T) {
	sessions := newFakeSessions()
	c := auth.NewSessionCache(cacheTTL, 10, sessions.lookup)
	for range 2 {
		for id, want := range map[int64]auth.SessionState{1: live, 2: {UserID: 20, Admin: true, Active: true}, 3: {}} {
			if got, err := c.Get(context.Background(), id, start); err != nil || got != want {
				t.Errorf("Get(%d) = %+v, %v; want %+v, nil", id, got, err, want)
			}
		}
	}
	for id := range int64(3) {
		if n := sessions.count(id + 1); n != 1 {
			t.Errorf("session %d looked up %d times, want 1", id+1, n)
		}
	}
	c.Forget(2)
	if _, err := c.Get(context.Background(), 1, start); err != nil || sessions.count(1) != 1 {
		t.Errorf("Forget(2) made session 1 be looked up again (%d lookups, %v)", sessions.count(1), err)
	}
}

func TestSessionCacheNeverHoldsMoreThanMaxEntries(t *testing.T) {
	for _, tc := range []struct{ maxEntries, want int }{{3, 3}, {1, 1}, {0, 1}} {
		sessions := newFakeSessions()
		c := auth.NewSessionCache(cacheTTL, tc.maxEntries, sessions.lookup)
		for id := range int64(20) {
			if _, err := c.Get(context.Background(), id+1, start); err != nil {
				t.Fatal(err)
			}
			if n := auth.SessionCacheLen(c); n > tc.want {
				t.Fatalf("maxEntries %d: after %d sessions the cache holds %d", tc.maxEntries, id+1, n)
			}
		}
		if n := auth.SessionCacheLen(c); n != tc.want {
			t.Errorf("maxEntries %d: the cache holds %d sessions, want %d", tc.maxEntries, n, tc.want)
		}
		// The session just looked up is one of those kept.
		if _, err := c.Get(context.Background(), 20, start); err != nil || sessions.count(20) != 1 {
			t.Errorf("maxEntries %d: the last session was not kept (%d lookups, %v)", tc.maxEntries, sessions.count(20), err)
		}
	}
}

func TestSessionCacheDoesNotKeepALookupThatRacedWithForget(t *testing.T) {
	// A lookup that read the session before this process revoked it must not be kept, or the
	// revoked session would pass for ttl more.
	sessions := newFakeSessions()
	started := make(chan struct{})
	proceed := make(chan struct{})
	var blocking sync.Once
	lookup := func(ctx context.Context, id int64) (auth.SessionState, error) {
		state, err := sessions.lookup(ctx, id)
		blocking.Do(func() {
			close(started)
			<-proceed
		})
		return state, err
	}
	c := auth.NewSessionCache(cacheTTL, 10, lookup)
	stale := make(chan auth.SessionState, 1)
	go func() {
		state, _ := c.Get(context.Background(), 1, start)
		stale <- state
	}()
	select {
	case <-started:
	case <-time.After(waitLimit):
		t.Fatalf("no lookup within %v", waitLimit)
	}
	sessions.set(1, revoked, nil)
	c.Forget(1)
	close(proceed)
	if got := <-stale; got != live {
		t.Errorf("the racing Get = %+v, want what its lookup read, %+v", got, live)
	}
	if got, err := c.Get(context.Background(), 1, start); err != nil || got != revoked {
		t.Errorf("Get after Forget = %+v, %v; want %+v, nil", got, err, revoked)
	}
	if n := sessions.count(1); n != 2 {
		t.Errorf("%d lookups, want 2", n)
	}
}

func TestSessionCacheIsSafeForConcurrentUse(t *testing.T) {
	sessions := newFakeSessions()
	c := auth.NewSessionCache(cacheTTL, 2, sessions.lookup)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				id := int64(1 + (g+i)%3)
				if i%10 == 0 {
					c.Forget(id)
				}
				if _, err := c.Get(context.Background(), id, start.Add(time.Duration(i)*time.Millisecond)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := auth.SessionCacheLen(c); n > 2 {
		t.Errorf("the cache holds %d sessions, want at most 2", n)
	}
}
