package web

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/storegraph/storegraph/graph"
)

// shutdownReason is the close reason of the WebSockets open at shutdown (code 1001).
const shutdownReason = "server shutting down"

// streams is the process's registry of its open stream connections, WebSocket and SSE: it
// bounds how many there are, and ends them all at shutdown, which http.Server.Shutdown does
// not do: it forgets hijacked connections, and waits for a response being written instead of
// ending it.
type streams struct {
	max int

	mu      sync.Mutex
	open    int
	closing bool
	reason  string // why they end
	ending  context.Context
	end     context.CancelFunc // called by closeAll
	done    sync.WaitGroup
}

func newStreams(max int) *streams {
	s := &streams{max: max}
	s.ending, s.end = context.WithCancel(context.Background())
	return s
}

// enter admits a stream on w, lifting the server's read and write deadlines off its
// connection: they bound ordinary requests, and a stream lasts for as long as its client
// wants it (each of its writes has a deadline of its own). Over the limit, or once the
// streams are closing, it answers 503 instead and reports false. Every admitted stream must
// leave.
func (s *streams) enter(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	closing, full := s.closing, s.open >= s.max
	if !closing && !full {
		s.open++
		s.done.Add(1)
	}
	s.mu.Unlock()
	switch {
	case closing:
		graph.WriteError(w, r, http.StatusServiceUnavailable, "The server is shutting down; reconnect.", graph.CodeUnavailable)
		return false
	case full:
		w.Header().Set("Retry-After", "1")
		graph.WriteError(w, r, http.StatusServiceUnavailable,
			"The server has as many streaming connections as it allows; retry shortly.", graph.CodeConnectionLimitExceeded)
		return false
	}
	// Not every ResponseWriter has deadlines (a test's recorder has none); where there are
	// none there is nothing to lift.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	return true
}

func (s *streams) leave() {
	s.mu.Lock()
	s.open--
	s.mu.Unlock()
	s.done.Done()
}

// closed returns a channel closed when the streams are to end.
func (s *streams) closed() <-chan struct{} { return s.ending.Done() }

// onClose has f called, in a goroutine of its own, when the streams are to end (at once if
// they are ending already), unless stop is called first.
func (s *streams) onClose(f func()) (stop func() bool) { return context.AfterFunc(s.ending, f) }

// why is the reason closeAll was given.
func (s *streams) why() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// closeAll ends every stream, and refuses new ones: a WebSocket is closed with 1001 and
// reason, an SSE response ends, so that clients reconnect (to another process) and resume.
// It returns when every stream has ended.
func (s *streams) closeAll(reason string) {
	s.mu.Lock()
	if !s.closing {
		s.closing, s.reason = true, reason
		s.end()
	}
	s.mu.Unlock()
	s.done.Wait()
}
