package graph

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"
)

// admitted acquires room for cost and fails t unless it is given at once.
func admitted(t *testing.T, a *admission, cost int) func() {
	t.Helper()
	release, err := a.acquire(context.Background(), cost)
	if err != nil {
		t.Fatalf("cost %d: %v, want admitted at once (in use %d)", cost, err, a.inUse)
	}
	return release
}

// waiting starts acquiring room for cost and returns the channel that its outcome arrives
// on, once the waiter is queued.
func waiting(t *testing.T, ctx context.Context, a *admission, cost int) <-chan error {
	t.Helper()
	a.mu.Lock()
	queued := a.waiters.Len()
	a.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		release, err := a.acquire(ctx, cost)
		if err == nil {
			release()
		}
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.mu.Lock()
		n := a.waiters.Len()
		a.mu.Unlock()
		if n > queued {
			return done
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiter was never queued")
		}
		time.Sleep(time.Millisecond)
	}
}

func outcome(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter never finished")
		return nil
	}
}

func TestAdmissionRunsHeavyOperationsUpToTheBudget(t *testing.T) {
	a := newAdmission(Admission{Budget: 1000, Wait: time.Hour})
	first := admitted(t, a, 600)
	admitted(t, a, 400)
	done := waiting(t, context.Background(), a, 300)
	first()
	if err := outcome(t, done); err != nil {
		t.Fatalf("after a release the waiter got %v, want admitted", err)
	}
}

func TestAdmissionKeepsRoomForCheapOperations(t *testing.T) {
	a := newAdmission(Admission{Budget: 1000, Wait: time.Hour}) // cheap: cost <= 1; reserve 100
	admitted(t, a, 1000)
	waiting(t, context.Background(), a, 500)
	for range 100 {
		admitted(t, a, 1) // not queued behind the heavy waiter
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := waiting(t, ctx, a, 1)
	cancel()
	if err := outcome(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("the 101st cheap operation got %v, want to wait (until cancelled)", err)
	}
}

func TestAdmissionRefusesAnOperationThatFindsNoRoomInTime(t *testing.T) {
	a := newAdmission(Admission{Budget: 1000, Wait: 20 * time.Millisecond})
	admitted(t, a, 900)
	if err := outcome(t, waiting(t, context.Background(), a, 200)); !errors.Is(err, errOverloaded) {
		t.Fatalf("got %v, want errOverloaded", err)
	}
	if a.waiters.Len() != 0 || a.inUse != 900 {
		t.Fatalf("after the refusal: %d waiters, %d in use; want 0 and 900", a.waiters.Len(), a.inUse)
	}
}

func TestAdmissionLetsAnOperationCostlierThanTheBudgetRunAlone(t *testing.T) {
	a := newAdmission(Admission{Budget: 1000, Wait: time.Hour})
	release := admitted(t, a, 5000)
	done := waiting(t, context.Background(), a, 2)
	release()
	if err := outcome(t, done); err != nil {
		t.Fatalf("got %v", err)
	}
	admitted(t, a, 5000)
}

func TestAdmissionOffAdmitsEverything(t *testing.T) {
	a := newAdmission(Admission{})
	for range 3 {
		admitted(t, a, 1<<40)
	}
}

func TestOverloadedIs503WithRetryAfter(t *testing.T) {
	a := newAdmission(Admission{Budget: 1000, Wait: time.Millisecond})
	h := newHandler(newTestDB(t, "sqlite::memory:"), discardLog(), Options{}, a)
	admitted(t, a, 975) // room for { stores { totalCount } }, which costs 21
	for _, x := range []struct {
		name, query string
		wantStatus  int
		wantBody    string
	}{
		{"a cheap query still runs", `{ stores { totalCount } }`, 200, `{"data":{"stores":{"totalCount":0}}}`},
		{"a query that does not fit is refused", `{ stores(first: 100) { nodes { id name } } }`, 503,
			`{"errors":[{"extensions":{"code":"OVERLOADED"},"message":"The server is busy; retry in a second."}]}`},
	} {
		t.Run(x.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, postJSON(gqlResp, queryBody(x.query)))
			wantRetry := ""
			if x.wantStatus == 503 {
				wantRetry = "1"
			}
			if got := rec.Body.String(); rec.Code != x.wantStatus || got != x.wantBody || rec.Header().Get("Retry-After") != wantRetry {
				t.Fatalf("got %d Retry-After=%q %s\nwant %d Retry-After=%q %s", rec.Code, rec.Header().Get("Retry-After"), got,
					x.wantStatus, wantRetry, x.wantBody)
			}
		})
	}
}
