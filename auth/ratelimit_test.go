package auth_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/storegraph/storegraph/auth"
)

var start = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

type attempt struct {
	key        string
	at         time.Duration // after start
	ok         bool
	retryAfter time.Duration
}

func TestLimiterAllow(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		perMinute, burst, maxKeys int
		attempts                  []attempt
	}{
		{
			name: "burst then refused until a token refills", perMinute: 6, burst: 3, maxKeys: 10,
			attempts: []attempt{
				{"a", 0, true, 0},
				{"a", 0, true, 0},
				{"a", 0, true, 0},
				{"a", 0, false, 10 * time.Second},
				// Refused attempts take nothing, so they do not push the next token back.
				{"a", 0, false, 10 * time.Second},
				{"a", 4 * time.Second, false, 6 * time.Second},
				{"a", 10 * time.Second, true, 0},
				{"a", 10 * time.Second, false, 10 * time.Second},
				{"a", 19 * time.Second, false, time.Second},
				{"a", 20 * time.Second, true, 0},
			},
		},
		{
			name: "a full refill restores the whole burst", perMinute: 6, burst: 2, maxKeys: 10,
			attempts: []attempt{
				{"a", 0, true, 0},
				{"a", 0, true, 0},
				{"a", 0, false, 10 * time.Second},
				{"a", time.Hour, true, 0},
				{"a", time.Hour, true, 0},
				{"a", time.Hour, false, 10 * time.Second},
			},
		},
		{
			name: "keys are independent", perMinute: 60, burst: 1, maxKeys: 10,
			attempts: []attempt{
				{"a", 0, true, 0},
				{"a", 0, false, time.Second},
				{"b", 0, true, 0},
				{"b", 0, false, time.Second},
				{"a", 0, false, time.Second},
			},
		},
		{
			name: "burst below one means one", perMinute: 60, burst: 0, maxKeys: 10,
			attempts: []attempt{
				{"a", 0, true, 0},
				{"a", 0, false, time.Second},
			},
		},
		{
			name: "the least recently used key is forgotten beyond maxKeys", perMinute: 60, burst: 1, maxKeys: 2,
			attempts: []attempt{
				{"a", 0, true, 0},
				{"b", 0, true, 0},
				{"a", 0, false, time.Second}, // a is now the most recently used
				{"c", 0, true, 0},            // evicts b
				{"a", 0, false, time.Second},
				{"b", 0, true, 0}, // b starts again with a full bucket, evicting c
				{"a", 0, false, time.Second},
				{"c", 0, true, 0},
			},
		},
		{
			name: "perMinute 0 never limits", perMinute: 0, burst: 1, maxKeys: 1,
			attempts: []attempt{
				{"a", 0, true, 0}, {"a", 0, true, 0}, {"a", 0, true, 0}, {"b", 0, true, 0}, {"a", 0, true, 0},
			},
		},
		{
			name: "negative perMinute never limits", perMinute: -1, burst: 1, maxKeys: 1,
			attempts: []attempt{
				{"a", 0, true, 0}, {"a", 0, true, 0}, {"a", 0, true, 0},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := auth.NewLimiter(tc.perMinute, tc.burst, tc.maxKeys)
			for i, a := range tc.attempts {
				retryAfter, ok := l.Allow(a.key, start.Add(a.at))
				if ok != a.ok || retryAfter != a.retryAfter {
					t.Errorf("attempt %d (%s at +%v) = %v, %v; want %v, %v", i, a.key, a.at, retryAfter, ok, a.retryAfter, a.ok)
				}
			}
		})
	}
}

func TestLimiterNeverHoldsMoreThanMaxKeys(t *testing.T) {
	const maxKeys = 3
	l := auth.NewLimiter(60, 1, maxKeys)
	for i := range 100 {
		l.Allow(fmt.Sprint("key", i), start)
		if n := auth.LimiterKeys(l); n > maxKeys {
			t.Fatalf("after %d keys the limiter holds %d, want at most %d", i+1, n, maxKeys)
		}
	}
	if n := auth.LimiterKeys(l); n != maxKeys {
		t.Errorf("the limiter holds %d keys, want %d", n, maxKeys)
	}
	// The last maxKeys keys are the ones remembered.
	for i := 97; i < 100; i++ {
		if _, ok := l.Allow(fmt.Sprint("key", i), start); ok {
			t.Errorf("key%d was forgotten", i)
		}
	}
}

func TestLimiterIsSafeForConcurrentUse(t *testing.T) {
	l := auth.NewLimiter(60, 5, 4)
	done := make(chan int)
	for g := range 8 {
		go func() {
			allowed := 0
			for range 50 {
				if _, ok := l.Allow(fmt.Sprint("key", g%2), start); ok {
					allowed++
				}
			}
			done <- allowed
		}()
	}
	total := 0
	for range 8 {
		total += <-done
	}
	// Two keys, never evicted (maxKeys 4), each with a burst of 5 and no time passing.
	if total != 10 {
		t.Errorf("%d attempts allowed, want 10", total)
	}
}

func TestRateLimitedError(t *testing.T) {
	for _, tc := range []struct {
		retryAfter time.Duration
		seconds    int
		message    string
	}{
		{0, 1, "Too many attempts; try again in 1 second."},
		{200 * time.Millisecond, 1, "Too many attempts; try again in 1 second."},
		{time.Second, 1, "Too many attempts; try again in 1 second."},
		{time.Second + time.Nanosecond, 2, "Too many attempts; try again in 2 seconds."},
		{10 * time.Second, 10, "Too many attempts; try again in 10 seconds."},
		{90*time.Second + 500*time.Millisecond, 91, "Too many attempts; try again in 91 seconds."},
	} {
		e := &auth.RateLimitedError{RetryAfter: tc.retryAfter}
		if got := e.Seconds(); got != tc.seconds {
			t.Errorf("Seconds(%v) = %d, want %d", tc.retryAfter, got, tc.seconds)
		}
		if got := e.Error(); got != tc.message {
			t.Errorf("Error(%v) = %q, want %q", tc.retryAfter, got, tc.message)
		}
	}
}
