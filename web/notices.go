package web

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
)

// noticed is a subscription's response function driven by delivery notices
// (graph.WithDeliveryNotice), as both stream transports run it. Each notice calls for one
// call of the function, which then does not block: a goroutine makes those calls, and hands
// their responses to respond, while notices are due, started when one is due and none is
// running, so that one subscription's responses go out one at a time, in order, and a
// subscription waiting for its next event has no goroutine. The end of the operation's
// context is a notice too, whose call returns nil at once and so ends the subscription: it
// needs no notice from the resolver.
type noticed struct {
	stream responder

	mu sync.Mutex
	// next is the response function, nil until it is handed over; stop is what dispatch
	// returned with it.
	next func() *graphql.Response
	stop context.CancelFunc
	// notices are those next has not yet been called for; pulling says a goroutine is
	// calling it; ended says it has returned its last response.
	notices        int
	pulling, ended bool
}

// responder is what a transport does with a subscription's responses.
type responder interface {
	// respond makes and sends the next response with next, or what ends the stream when
	// next returns nil; false once the stream has ended.
	respond(next func() *graphql.Response) bool
	// finish runs once after that, and after the stop the function came with.
	finish()
}

// handOver leaves the subscription, set up, to its notices, those already come included;
// ctx's end is the last of them.
func (n *noticed) handOver(ctx context.Context, stream responder, next func() *graphql.Response, stop context.CancelFunc) {
	n.mu.Lock()
	n.stream, n.next, n.stop = stream, next, stop
	due := n.due()
	n.mu.Unlock()
	context.AfterFunc(ctx, n.notice)
	if due {
		go n.pull()
	}
}

// notice is a notice: the response function is to be called once more. It never blocks:
// the resolver calls it as it delivers.
func (n *noticed) notice() {
	n.mu.Lock()
	n.notices++
	due := n.due()
	n.mu.Unlock()
	if due {
		go n.pull()
	}
}

// due reports whether a goroutine is to start calling the response function, marking it
// pulling if so. n.mu must be held.
func (n *noticed) due() bool {
	if n.next == nil || n.pulling || n.ended || n.notices == 0 {
		return false
	}
	n.pulling = true
	return true
}

// pull calls the response function once per notice, and has its responses sent, until no
// notice is left or the subscription has ended.
func (n *noticed) pull() {
	for {
		n.mu.Lock()
		if n.notices == 0 {
			n.pulling = false
			n.mu.Unlock()
			return
		}
		n.notices--
		n.mu.Unlock()
		if !n.stream.respond(n.next) {
			n.mu.Lock()
			n.ended = true
			n.mu.Unlock()
			n.stop()
			n.stream.finish()
			return
		}
	}
}
