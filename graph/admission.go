package graph

import (
	"container/list"
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// CodeOverloaded refuses an operation that found no room to execute within the admission
// timeout (HTTP 503 with Retry-After): nothing is wrong with it, and it may succeed later.
const CodeOverloaded = "OVERLOADED"

// Admission bounds the operations executing at once by the sum of their costs (the same cost
// that the complexity limit bounds), so that memory and CPU are shared out before they are
// spent: a burst of the largest queries runs a few at a time, and the rest are refused
// quickly instead of all running into the request timeout together.
type Admission struct {
	// Budget is the total cost of the operations executing at once. Each operation counts
	// as at least a thousandth of it, so at most about a thousand run at once, and a tenth
	// more is held back for cheap operations (those costing at most that thousandth), so
	// that a point query never waits behind a queue of heavy ones. Zero turns admission off.
	Budget int
	// Wait is how long an operation may wait for room before it is refused as OVERLOADED.
	Wait time.Duration
}

// DefaultAdmission lets one operation of the default complexity limit run at once for every
// two cores, beside the cheap ones. On two cores a second one at once raised the p99 of the
// point queries beside them from under 40 ms to 80 ms and the peak RSS from 160 MB to 270 MB,
// for a third more heavy throughput (BENCHMARKS.md).
var DefaultAdmission = Admission{
	Budget: DefaultLimits.Complexity * max(1, runtime.GOMAXPROCS(0)/2),
	Wait:   500 * time.Millisecond,
}

var errOverloaded = errors.New("no room to execute the operation")

// errBusy is errOverloaded as a client sees it.
var errBusy = &codedError{code: CodeOverloaded, message: "The server is busy; retry in a second."}

type admissionKey struct{}

// Admit takes room for op among the operations executing at once, as the HTTP transport
// does, for the queries and mutations that other transports (WebSocket, SSE) carry; release
// gives it back once the response is written. Without room in time the error is an
// OVERLOADED one (or the context's).
func Admit(ctx context.Context, op *graphql.OperationContext) (release func(), err error) {
	a, _ := ctx.Value(admissionKey{}).(*admission)
	if a == nil {
		return func() {}, nil
	}
	release, err = a.acquire(ctx, operationCostOf(op))
	if errors.Is(err, errOverloaded) {
		return nil, errBusy
	}
	return release, err
}

// admission is the state of an Admission in a running server.
type admission struct {
	Admission
	floor   int // the least an operation counts
	reserve int // room beyond Budget that only cheap operations may take

	mu      sync.Mutex
	inUse   int
	waiters list.List // of *admissionWaiter, in arrival order
}

type admissionWaiter struct {
	weight int
	ready  chan struct{} // closed once admitted
}

func newAdmission(a Admission) *admission {
	return &admission{Admission: a, floor: max(a.Budget/1000, 1), reserve: a.Budget / 10}
}

// acquire waits for room to execute an operation of the given cost, until the admission
// wait or ctx ends (errOverloaded, or ctx's error). release must be called once it is done.
func (a *admission) acquire(ctx context.Context, cost int) (release func(), err error) {
	if a.Budget <= 0 {
		return func() {}, nil
	}
	// An operation costlier than the whole budget (the complexity limit off) runs alone.
	weight := min(max(cost, a.floor), a.Budget)
	release = func() { a.release(weight) }

	a.mu.Lock()
	if a.fits(weight) {
		a.inUse += weight
		a.mu.Unlock()
		return release, nil
	}
	w := &admissionWaiter{weight: weight, ready: make(chan struct{})}
	el := a.waiters.PushBack(w)
	a.mu.Unlock()

	timer := time.NewTimer(a.Wait)
	defer timer.Stop()
	select {
	case <-w.ready:
		return release, nil
	case <-timer.C:
		err = errOverloaded
	case <-ctx.Done():
		err = ctx.Err()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-w.ready: // admitted while giving up: hand the room back
		a.inUse -= weight
		a.admitWaiters()
	default:
		a.waiters.Remove(el)
	}
	return nil, err
}

func (a *admission) fits(weight int) bool {
	limit := a.Budget
	if weight <= a.floor {
		limit += a.reserve
	}
	return a.inUse+weight <= limit
}

func (a *admission) release(weight int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inUse -= weight
	a.admitWaiters()
}

// admitWaiters admits, in arrival order, every waiter that now fits; one that does not fit
// does not hold back a smaller one behind it.
func (a *admission) admitWaiters() {
	for el := a.waiters.Front(); el != nil; {
		next := el.Next()
		if w := el.Value.(*admissionWaiter); a.fits(w.weight) {
			a.inUse += w.weight
			close(w.ready)
			a.waiters.Remove(el)
		}
		el = next
	}
}
