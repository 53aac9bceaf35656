package auth

import (
	"container/list"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a set of token buckets keyed by string (a client address, an email), each
// refilling perMinute tokens a minute up to burst. Only the maxKeys most recently used keys
// are kept, so that a flood of distinct keys cannot grow memory without bound; a key evicted
// starts again with a full bucket.
type Limiter struct {
	limit   rate.Limit
	burst   int
	maxKeys int

	mu      sync.Mutex
	recency *list.List // of *bucket, most recently used first
	buckets map[string]*list.Element
}

type bucket struct {
	key     string
	limiter *rate.Limiter
}

// NewLimiter returns a Limiter allowing perMinute attempts a minute per key, burst at once
// (at least 1), remembering at most maxKeys keys (at least 1). perMinute <= 0 means no limit.
func NewLimiter(perMinute, burst, maxKeys int) *Limiter {
	l := &Limiter{burst: max(burst, 1), maxKeys: max(maxKeys, 1)}
	if perMinute > 0 {
		l.limit = rate.Limit(float64(perMinute) / 60)
		l.recency = list.New()
		l.buckets = make(map[string]*list.Element)
	}
	return l
}

// Allow takes a token from key's bucket at now and reports whether there was one. When there
// was not, nothing is taken (a refused attempt does not push the next one back) and
// retryAfter is how long until there will be.
func (l *Limiter) Allow(key string, now time.Time) (retryAfter time.Duration, ok bool) {
	if l.limit == 0 {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.bucket(key).ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		// rate works in float64 tokens, so a wait of 6s can come out as 5.999999999s; whole
		// milliseconds hide that, and rounding up never tells a client to come back too early.
		return ceilMillisecond(delay), false
	}
	return 0, true
}

// bucket returns key's limiter, making it the most recently used. l.mu must be held.
func (l *Limiter) bucket(key string) *rate.Limiter {
	if e, ok := l.buckets[key]; ok {
		l.recency.MoveToFront(e)
		return e.Value.(*bucket).limiter
	}
	if len(l.buckets) >= l.maxKeys {
		oldest := l.recency.Back()
		l.recency.Remove(oldest)
		delete(l.buckets, oldest.Value.(*bucket).key)
	}
	b := &bucket{key: key, limiter: rate.NewLimiter(l.limit, l.burst)}
	l.buckets[key] = l.recency.PushFront(b)
	return b.limiter
}

func ceilMillisecond(d time.Duration) time.Duration {
	if r := d % time.Millisecond; r != 0 {
		d += time.Millisecond - r
	}
	return d
}

// RateLimitedError reports an attempt refused by a Limiter.
type RateLimitedError struct {
	RetryAfter time.Duration
}

// Error returns the message for the user: "Too many attempts; try again in N seconds.".
func (e *RateLimitedError) Error() string {
	n := e.Seconds()
	if n == 1 {
		return "Too many attempts; try again in 1 second."
	}
	return fmt.Sprintf("Too many attempts; try again in %d seconds.", n)
}

// Seconds returns RetryAfter in whole seconds, rounded up and at least 1: retrying sooner
// would be refused.
func (e *RateLimitedError) Seconds() int {
	n := e.RetryAfter / time.Second
	if e.RetryAfter%time.Second != 0 {
		n++
	}
	return int(max(n, 1))
}
