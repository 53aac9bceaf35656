package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/storegraph/storegraph/config"
	"github.com/storegraph/storegraph/graph"
	"github.com/storegraph/storegraph/storage"
)

// waitLimit bounds every wait of these tests for something that should happen at once.
const waitLimit = 10 * time.Second

// streamServer serves testStack's handler (over SQLite in memory) on a real HTTP server.
func streamServer(t *testing.T, cfg config.Config) (stack, *httptest.Server) {
	t.Helper()
	s := testStack(t, "sqlite::memory:", cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(s.CloseStreams) // first: the server waits for streams still open
	return s, srv
}

// createStore adds a store straight through storage, as an admin: its event is what these
// tests watch, and the GraphQL way to it (register, then a mutation) is tested elsewhere.
func createStore(t *testing.T, s stack, name string) {
	t.Helper()
	if _, err := s.db.CreateStore(context.Background(), storage.Actor{Admin: true}, name); err != nil {
		t.Fatal(err)
	}
}

// waitForSubscribers waits until the hub has n subscriptions: an event committed before a
// subscription has started is not one of its events.
func waitForSubscribers(t *testing.T, s stack, n int) {
	t.Helper()
	if !eventually(waitLimit, func() bool { return s.hub.Subscribers() == n }) {
		t.Fatalf("the hub has %d subscriptions, want %d", s.hub.Subscribers(), n)
	}
}

func TestStreamsBeyondMaxStreamConnectionsAre503BeforeUpgrading(t *testing.T) {
	_, srv := streamServer(t, config.Config{Streams: config.Streams{MaxConnections: 1}})
	first := dialWS(t, srv, nil)
	initWS(t, first, `{}`)

	const want = `{"errors":[{"extensions":{"code":"CONNECTION_LIMIT_EXCEEDED"},"message":"The server has as many streaming connections as it allows; retry shortly."}]}`
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, wsURL(srv), &websocket.DialOptions{Subprotocols: []string{wsSubprotocol}})
	if err == nil {
		t.Fatal("a second WebSocket was accepted")
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || string(body) != want || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("second WebSocket: %d %s (Retry-After %q), want 503 %s (Retry-After 1)", resp.StatusCode, body, resp.Header.Get("Retry-After"), want)
	}
	sse := postSSE(t, srv, `{"query":"subscription { storeEvents { kind } }"}`)
	body, _ = io.ReadAll(sse.Body)
	if sse.StatusCode != http.StatusServiceUnavailable || string(body) != want {
		t.Fatalf("SSE stream: %d %s, want 503 %s", sse.StatusCode, body, want)
	}

	// The room is the first connection's until it ends.
	first.Close(websocket.StatusNormalClosure, "")
	var next *websocket.Conn
	if !eventually(waitLimit, func() bool {
		next, _, err = websocket.Dial(ctx, wsURL(srv), &websocket.DialOptions{Subprotocols: []string{wsSubprotocol}})
		return err == nil
	}) {
		t.Fatalf("no WebSocket accepted after the first closed: %v", err)
	}
	defer next.CloseNow()
	initWS(t, next, `{}`)
}

func TestCloseStreamsClosesWebSocketsWith1001AndEndsSSEStreams(t *testing.T) {
	s, srv := streamServer(t, config.Config{})
	ws := dialWS(t, srv, nil)
	initWS(t, ws, `{}`)
	sendWS(t, ws, `{"id":"1","type":"subscribe","payload":{"query":"subscription { storeEvents { kind } }"}}`)
	sse := openSSE(t, postSSE(t, srv, `{"query":"subscription { storeEvents { kind } }"}`))
	waitForSubscribers(t, s, 2)

	closed := make(chan struct{})
	go func() {
		s.CloseStreams()
		close(closed)
	}()
	if msgs, code, reason := readUntilClose(t, ws); len(msgs) != 0 || code != websocket.StatusGoingAway || reason != shutdownReason {
		t.Fatalf("WebSocket got %q then close %d %q, want nothing then 1001 %q", msgs, code, reason, shutdownReason)
	}
	// The stream ends without complete: the client is to reconnect and resume.
	if block, err := sse.block(); !errors.Is(err, io.EOF) {
		t.Fatalf("SSE stream went on with %q (%v), want its end", block, err)
	}
	select {
	case <-closed:
	case <-time.After(waitLimit):
		t.Fatal("CloseStreams did not return")
	}
	waitForSubscribers(t, s, 0)

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, wsURL(srv), &websocket.DialOptions{Subprotocols: []string{wsSubprotocol}})
	if err == nil {
		t.Fatal("a WebSocket was accepted after CloseStreams")
	}
	body, _ := io.ReadAll(resp.Body)
	const want = `{"errors":[{"extensions":{"code":"UNAVAILABLE"},"message":"The server is shutting down; reconnect."}]}`
	if resp.StatusCode != http.StatusServiceUnavailable || string(body) != want {
		t.Fatalf("WebSocket after CloseStreams: %d %s, want 503 %s", resp.StatusCode, body, want)
	}
}

// The server's own timeouts (http.Server's, and REQUEST_TIMEOUT) bound ordinary requests;
// a stream lasts as long as its client keeps it. Each stream here lives five times longer,
// then still carries an event.
func TestStreamsOutliveTheServersTimeouts(t *testing.T) {
	const timeout = 200 * time.Millisecond
	s := testStack(t, "sqlite::memory:", config.Config{RequestTimeout: timeout, Streams: config.Streams{PingInterval: timeout}})
	srv := httptest.NewUnstartedServer(s)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = timeout, timeout
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(s.CloseStreams)

	ws := dialWS(t, srv, nil)
	initWS(t, ws, `{}`)
	sendWS(t, ws, `{"id":"1","type":"subscribe","payload":{"query":"subscription { storeEvents { store { name } } }"}}`)
	sse := openSSE(t, postSSE(t, srv, `{"query":"subscription { storeEvents { store { name } } }"}`))
	waitForSubscribers(t, s, 2)

	// Both are kept alive meanwhile: the socket answering the server's pings, the SSE
	// stream reading its keep-alive comments.
	for start := time.Now(); time.Since(start) < 5*timeout; {
		if got := readWS(t, ws); got != `{"type":"ping"}` {
			t.Fatalf("socket got %s, want the server's ping", got)
		}
		sendWS(t, ws, `{"type":"pong"}`)
		if got := sse.next(t); got != ":" {
			t.Fatalf("SSE stream got %q, want a keep-alive comment", got)
		}
	}
	createStore(t, s, "Late")
	if got, want := readWSSkippingPings(t, ws), `{"id":"1","type":"next","payload":{"data":{"storeEvents":{"store":{"name":"Late"}}}}}`; got != want {
		t.Fatalf("socket got %s, want %s", got, want)
	}
	for {
		got := sse.next(t)
		if got == ":" {
			continue
		}
		if want := `data: {"data":{"storeEvents":{"store":{"name":"Late"}}}}`; !strings.HasPrefix(got, "event: next\nid: ") || !strings.HasSuffix(got, "\n"+want) {
			t.Fatalf("SSE stream got %q, want a next event with %s", got, want)
		}
		break
	}
}

// Operations over the streams meet the document limits of HTTP: a subscription deeper than
// MAX_QUERY_DEPTH is refused before it starts, on either transport.
func TestStreamsApplyTheDocumentLimits(t *testing.T) {
	_, srv := streamServer(t, config.Config{Limits: config.Limits{Document: graph.Limits{Depth: 2}}})
	const deep = `subscription { itemEvents { item { name } } }`
	const refusal = `[{"message":"The document has 3 levels of nested fields; the limit is 2.","extensions":{"code":"DEPTH_LIMIT_EXCEEDED"}}]`

	c := dialWS(t, srv, nil)
	initWS(t, c, `{}`)
	sendWS(t, c, `{"id":"deep","type":"subscribe","payload":{"query":"`+deep+`"}}`)
	if got, want := readWS(t, c), `{"id":"deep","type":"error","payload":`+refusal+`}`; got != want {
		t.Errorf("WebSocket: got  %s\nwant %s", got, want)
	}

	stream := openSSE(t, postSSE(t, srv, `{"query":"`+deep+`"}`))
	rest, err := io.ReadAll(stream.r)
	if want := "event: next\ndata: {\"errors\":" + refusal + "}\n\nevent: complete\ndata:\n\n"; err != nil || string(rest) != want {
		t.Errorf("SSE: got %q (%v)\nwant %q", rest, err, want)
	}
}
