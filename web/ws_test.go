package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/storegraph/storegraph/config"
	"github.com/storegraph/storegraph/storage"
)

func wsURL(srv *httptest.Server) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/graphql"
}

// dialWS opens a WebSocket to srv's /graphql, offering graphql-transport-ws unless opts
// say otherwise; it is closed when the test ends.
func dialWS(t *testing.T, srv *httptest.Server, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{Subprotocols: []string{wsSubprotocol}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(srv), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func sendWS(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("send %s: %v", msg, err)
	}
}

func readWS(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

// readWSSkippingPings is the next message other than the server's pings, which it answers.
func readWSSkippingPings(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	for {
		m := readWS(t, c)
		if m != `{"type":"ping"}` {
			return m
		}
		sendWS(t, c, `{"type":"pong"}`)
	}
}

// initWS sends connection_init with payload ("" for none) and expects the ack.
func initWS(t *testing.T, c *websocket.Conn, payload string) {
	t.Helper()
	if payload == "" {
		sendWS(t, c, `{"type":"connection_init"}`)
	} else {
		sendWS(t, c, `{"type":"connection_init","payload":`+payload+`}`)
	}
	if got := readWS(t, c); got != `{"type":"connection_ack"}` {
		t.Fatalf("connection_init answered %s, want connection_ack", got)
	}
}

// readUntilClose reads the messages up to the end of the connection, and the close code and
// reason it ended with (-1 and "" without a close frame).
func readUntilClose(t *testing.T, c *websocket.Conn) ([]string, websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var msgs []string
	for {
		_, b, err := c.Read(ctx)
		if err == nil {
			msgs = append(msgs, string(b))
			continue
		}
		if ctx.Err() != nil {
			t.Fatalf("the connection is still open after %v, with %q", waitLimit, msgs)
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return msgs, ce.Code, ce.Reason
		}
		return msgs, -1, ""
	}
}

// Every way graphql-ws's protocol has a server close the socket, with the code and reason
// graphql-ws's server closes with (src/server.ts), and for 4400 the words of its
// validateMessage (src/common.ts).
func TestWebSocketClosesWithTheProtocolsCodesAndReasons(t *testing.T) {
	const (
		init      = `{"type":"connection_init"}`
		ack       = `{"type":"connection_ack"}`
		subscribe = `{"id":"1","type":"subscribe","payload":{"query":"subscription { storeEvents { kind } }"}}`
	)
	longID := strings.Repeat("i", 100)
	tests := []struct {
		name        string
		initTimeout time.Duration
		send        []string
		want        []string // the messages before the close
		code        websocket.StatusCode
		reason      string
	}{
		{"no connection_init within WS_INIT_TIMEOUT", 200 * time.Millisecond, nil, nil,
			4408, "Connection initialisation timeout"},
		{"a second connection_init", 0, []string{init, init}, []string{ack},
			4429, "Too many initialisation requests"},
		{"subscribe before connection_init", 0, []string{subscribe}, nil,
			4401, "Unauthorized"},
		{"an ID already active", 0, []string{init, subscribe, subscribe}, []string{ack},
			4409, "Subscriber for 1 already exists"},
		{"an ID already active, too long to repeat", 0, []string{init,
			`{"id":"` + longID + `","type":"subscribe","payload":{"query":"subscription { storeEvents { kind } }"}}`,
			`{"id":"` + longID + `","type":"subscribe","payload":{"query":"subscription { storeEvents { kind } }"}}`},
			[]string{ack}, 4409, "Subscriber already exists"},
		{"not JSON", 0, []string{`{"type":`}, nil,
			4400, "Message is expected to be a JSON object"},
		{"not an object", 0, []string{`["connection_init"]`}, nil,
			4400, "Message is expected to be a JSON object"},
		{"no type", 0, []string{`{"id":"1"}`}, nil,
			4400, "Message is missing the 'type' property"},
		{"a type not a string", 0, []string{`{"type":1}`}, nil,
			4400, "Message expects the 'type' property to be a string"},
		{"an unknown type", 0, []string{`{"id":"1","type":"start"}`}, nil,
			4400, `Invalid message 'type' property "start"`},
		{"an unknown type too long to repeat", 0, []string{`{"type":"` + strings.Repeat("x", 120) + `"}`}, nil,
			4400, "Invalid message received"},
		{"a message only servers send", 0, []string{init, `{"id":"1","type":"next","payload":{}}`}, []string{ack},
			4400, "Unexpected message of type next received"},
		{"subscribe without an ID", 0, []string{init, `{"type":"subscribe","payload":{"query":"{ stores { totalCount } }"}}`}, []string{ack},
			4400, `"subscribe" message requires a non-empty 'id' property`},
		{"complete without an ID", 0, []string{init, `{"type":"complete"}`}, []string{ack},
			4400, `"complete" message requires a non-empty 'id' property`},
		{"subscribe without a payload", 0, []string{init, `{"id":"1","type":"subscribe"}`}, []string{ack},
			4400, `"subscribe" message expects the 'payload' property to be an object`},
		{"subscribe without a query", 0, []string{init, `{"id":"1","type":"subscribe","payload":{}}`}, []string{ack},
			4400, `"subscribe" message payload expects the 'query' property to be a string`},
		{"variables not an object", 0, []string{init, `{"id":"1","type":"subscribe","payload":{"query":"{ stores { totalCount } }","variables":[]}}`}, []string{ack},
			4400, `"subscribe" message payload expects the 'variables' property to be a JSON object`},
		{"a ping payload not an object", 0, []string{`{"type":"ping","payload":"hello"}`}, nil,
			4400, `"ping" message expects the 'payload' property to be an object or nullish or missing`},
		{"an unusable access token", 0, []string{`{"type":"connection_init","payload":{"Authorization":"Bearer not-a-token"}}`}, nil,
			4403, "Forbidden"},
		{"an access token not a string", 0, []string{`{"type":"connection_init","payload":{"headers":{"Authorization":7}}}`}, nil,
			4403, "Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := streamServer(t, config.Config{Streams: config.Streams{InitTimeout: tt.initTimeout}})
			c := dialWS(t, srv, nil)
			for _, m := range tt.send {
				sendWS(t, c, m)
			}
			msgs, code, reason := readUntilClose(t, c)
			if fmt.Sprint(msgs) != fmt.Sprint(tt.want) || code != tt.code || reason != tt.reason {
				t.Fatalf("got %q then close %d %q\nwant %q then close %d %q", msgs, code, reason, tt.want, tt.code, tt.reason)
			}
		})
	}
}

// graphql-ws's server accepts the handshake of a client offering none of its subprotocols,
// without one, then closes the socket with 4406.
func TestWebSocketWithoutGraphQLTransportWSIsClosedWith4406(t *testing.T) {
	for _, offered := range [][]string{nil, {"graphql-ws"}} {
		t.Run(fmt.Sprint(offered), func(t *testing.T) {
			_, srv := streamServer(t, config.Config{})
			c := dialWS(t, srv, &websocket.DialOptions{Subprotocols: offered})
			if c.Subprotocol() != "" {
				t.Fatalf("subprotocol %q negotiated", c.Subprotocol())
			}
			if msgs, code, reason := readUntilClose(t, c); len(msgs) != 0 || code != 4406 || reason != "Subprotocol not acceptable" {
				t.Fatalf("got %q then close %d %q, want close 4406 %q", msgs, code, reason, "Subprotocol not acceptable")
			}
		})
	}
}

// connection_init carries the access token where clients put it; every operation of the
// connection is then the token's user's. Without one, the upgrade request's Authorization
// header signs the connection in, or it is anonymous.
func TestWebSocketConnectionInitSignsEveryOperationIn(t *testing.T) {
	s, srv := streamServer(t, config.Config{})
	token := register(t, s, "socket@example.com")
	const signedIn = `{"data":{"me":{"email":"socket@example.com"}}}`
	tests := []struct {
		name, payload, header, want string
	}{
		{"no payload", "", "", `{"data":{"me":null}}`},
		{"no token", `{}`, "", `{"data":{"me":null}}`},
		{"Authorization", `{"Authorization":"Bearer ` + token + `"}`, "", signedIn},
		{"authorization", `{"authorization":"Bearer ` + token + `"}`, "", signedIn},
		{"headers.Authorization", `{"headers":{"Authorization":"Bearer ` + token + `"}}`, "", signedIn},
		{"the upgrade request's header", `{}`, "Bearer " + token, signedIn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := &websocket.DialOptions{Subprotocols: []string{wsSubprotocol}, HTTPHeader: http.Header{}}
			if tt.header != "" {
				opts.HTTPHeader.Set("Authorization", tt.header)
			}
			c := dialWS(t, srv, opts)
			initWS(t, c, tt.payload)
			for _, id := range []string{"a", "b"} { // each operation, not just the first
				sendWS(t, c, `{"id":"`+id+`","type":"subscribe","payload":{"query":"{ me { email } }"}}`)
				if got, want := readWS(t, c), `{"id":"`+id+`","type":"next","payload":`+tt.want+`}`; got != want {
					t.Fatalf("got %s, want %s", got, want)
				}
				if got, want := readWS(t, c), `{"id":"`+id+`","type":"complete"}`; got != want {
					t.Fatalf("got %s, want %s", got, want)
				}
			}
		})
	}
}

// Queries and mutations run over the socket too, one next then complete; an operation
// refused before execution is an error message with its errors (as graphql-ws sends
// validation errors), and a subscription that fails to start is a next with its errors.
func TestWebSocketRunsEveryKindOfOperation(t *testing.T) {
	s, srv := streamServer(t, config.Config{})
	token := register(t, s, "writer@example.com")
	watcher := dialWS(t, srv, nil)
	initWS(t, watcher, `{}`)
	sendWS(t, watcher, `{"id":"events","type":"subscribe","payload":{"query":"subscription { storeEvents { kind store { name } } }"}}`)
	waitForSubscribers(t, s, 1)

	writer := dialWS(t, srv, nil)
	initWS(t, writer, `{"Authorization":"Bearer `+token+`"}`)
	tests := []struct {
		name, payload string
		want          []string
	}{
		{"a mutation", `{"query":"mutation($name: String!) { createStore(input: {name: $name}) { name } }","variables":{"name":"Socket Store"}}`,
			[]string{`{"id":"op","type":"next","payload":{"data":{"createStore":{"name":"Socket Store"}}}}`, `{"id":"op","type":"complete"}`}},
		{"a query", `{"query":"query Count { stores { totalCount } }","operationName":"Count"}`,
			[]string{`{"id":"op","type":"next","payload":{"data":{"stores":{"totalCount":1}}}}`, `{"id":"op","type":"complete"}`}},
		{"a validation error", `{"query":"{ nope }"}`,
			[]string{`{"id":"op","type":"error","payload":[{"message":"Cannot query field \"nope\" on type \"Query\". Did you mean \"node\" or \"nodes\"?","locations":[{"line":1,"column":3}],"extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`}},
		{"a parse error", `{"query":"{"}`,
			[]string{`{"id":"op","type":"error","payload":[{"message":"Expected Name, found \u003cEOF\u003e","locations":[{"line":1,"column":2}],"extensions":{"code":"GRAPHQL_PARSE_FAILED"}}]}`}},
		{"a subscription that cannot start", `{"query":"subscription { storeEvents(after: \"nonsense\") { kind } }"}`,
			[]string{`{"id":"op","type":"next","payload":{"errors":[{"message":"Invalid cursor.","path":["storeEvents"],"locations":[{"line":1,"column":16}],"extensions":{"code":"BAD_USER_INPUT","field":"after"}}],"data":null}}`, `{"id":"op","type":"complete"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sendWS(t, writer, `{"id":"op","type":"subscribe","payload":`+tt.payload+`}`)
			for _, want := range tt.want {
				if got := readWS(t, writer); got != want {
					t.Fatalf("got  %s\nwant %s", got, want)
				}
			}
		})
	}
	// The mutation on one connection reached the subscription on another.
	if got, want := readWS(t, watcher), `{"id":"events","type":"next","payload":{"data":{"storeEvents":{"kind":"CREATED","store":{"name":"Socket Store"}}}}}`; got != want {
		t.Fatalf("watcher got %s, want %s", got, want)
	}
}

// After complete, a subscription gets nothing more, its resolver stops, and its ID is free.
func TestWebSocketCompleteStopsASubscription(t *testing.T) {
	s, srv := streamServer(t, config.Config{})
	c := dialWS(t, srv, nil)
	initWS(t, c, `{}`)
	sendWS(t, c, `{"id":"1","type":"subscribe","payload":{"query":"subscription { storeEvents { store { name } } }"}}`)
	waitForSubscribers(t, s, 1)
	createStore(t, s, "First")
	if got, want := readWS(t, c), `{"id":"1","type":"next","payload":{"data":{"storeEvents":{"store":{"name":"First"}}}}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}

	sendWS(t, c, `{"id":"1","type":"complete"}`)
	waitForSubscribers(t, s, 0)
	// A subscription started now gets the next event; the completed one would have sent
	// its own before it.
	sendWS(t, c, `{"id":"2","type":"subscribe","payload":{"query":"subscription { storeEvents { store { name } } }"}}`)
	waitForSubscribers(t, s, 1)
	createStore(t, s, "Second")
	if got, want := readWS(t, c), `{"id":"2","type":"next","payload":{"data":{"storeEvents":{"store":{"name":"Second"}}}}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// The ID is the client's again; complete for an ID not active is no error.
	sendWS(t, c, `{"id":"1","type":"complete"}`)
	sendWS(t, c, `{"id":"1","type":"subscribe","payload":{"query":"{ stores { totalCount } }"}}`)
	if got, want := readWS(t, c), `{"id":"1","type":"next","payload":{"data":{"stores":{"totalCount":2}}}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestWebSocketRefusesOperationsBeyondMaxSubscriptionsPerConnection(t *testing.T) {
	s, srv := streamServer(t, config.Config{Streams: config.Streams{MaxSubscriptionsPerConnection: 2}})
	c := dialWS(t, srv, nil)
	initWS(t, c, `{}`)
	subscribe := func(id string) {
		sendWS(t, c, `{"id":"`+id+`","type":"subscribe","payload":{"query":"subscription { storeEvents { store { name } } }"}}`)
	}
	subscribe("1")
	subscribe("2")
	subscribe("3")
	if got, want := readWS(t, c), `{"id":"3","type":"error","payload":[{"extensions":{"code":"SUBSCRIPTION_LIMIT_EXCEEDED"},"message":"This connection runs 2 operations, the most it may; complete one first."}]}`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	sendWS(t, c, `{"id":"1","type":"complete"}`)
	waitForSubscribers(t, s, 1)
	subscribe("3")
	waitForSubscribers(t, s, 2)
	createStore(t, s, "Counted")
	got := map[string]bool{readWS(t, c): true, readWS(t, c): true}
	for _, id := range []string{"2", "3"} {
		if want := `{"id":"` + id + `","type":"next","payload":{"data":{"storeEvents":{"store":{"name":"Counted"}}}}}`; !got[want] {
			t.Fatalf("got %v, want %s among them", got, want)
		}
	}
}

func TestWebSocketAnswersPingsAndPingsTheClient(t *testing.T) {
	_, srv := streamServer(t, config.Config{Streams: config.Streams{PingInterval: 200 * time.Millisecond}})
	c := dialWS(t, srv, nil)
	// Before connection_init too.
	sendWS(t, c, `{"type":"ping","payload":{"n":1}}`)
	if got, want := readWS(t, c), `{"type":"pong","payload":{"n":1}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	initWS(t, c, "")
	sendWS(t, c, `{"type":"ping"}`)
	if got, want := readWSSkippingPings(t, c), `{"type":"pong"}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// A client that answers stays: five intervals, each ping answered.
	for range 5 {
		if got := readWS(t, c); got != `{"type":"ping"}` {
			t.Fatalf("got %s, want the server's ping", got)
		}
		sendWS(t, c, `{"type":"pong","payload":{"answer":true}}`)
	}
	sendWS(t, c, `{"id":"q","type":"subscribe","payload":{"query":"{ stores { totalCount } }"}}`)
	if got, want := readWSSkippingPings(t, c), `{"id":"q","type":"next","payload":{"data":{"stores":{"totalCount":0}}}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// A client that answers nothing for two ping intervals is dropped, as graphql-ws's server
// drops it: without a close handshake it would not answer either.
func TestWebSocketDropsAClientThatAnswersNoPings(t *testing.T) {
	_, srv := streamServer(t, config.Config{Streams: config.Streams{PingInterval: 100 * time.Millisecond}})
	c := dialWS(t, srv, nil)
	initWS(t, c, "")
	msgs, code, _ := readUntilClose(t, c)
	pings := slices.IndexFunc(msgs, func(m string) bool { return m != `{"type":"ping"}` }) == -1
	if code != -1 || len(msgs) > 3 || !pings {
		t.Fatalf("got %q then close %d, want at most three pings then a dropped connection", msgs, code)
	}
}

// A client that stops reading fills its connection's buffers; the server's next write to it
// then blocks, for STREAM_WRITE_TIMEOUT at most, after which the connection is dropped.
// Meanwhile another connection gets every event as soon as it is committed.
func TestSlowWebSocketDoesNotDelayAnother(t *testing.T) {
	const writeTimeout = time.Second
	s := testStack(t, "sqlite::memory:", config.Config{Streams: config.Streams{WriteTimeout: writeTimeout}})
	srv := httptest.NewUnstartedServer(s)
	// Small socket buffers on both sides, so that a few hundred events fill them.
	srv.Listener = smallBufferListener{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(s.CloseStreams)

	const query = `{"id":"1","type":"subscribe","payload":{"query":"subscription { storeEvents { cursor kind storeId at store { id name createdAt updatedAt } } }"}}`
	slow := dialWS(t, srv, &websocket.DialOptions{
		Subprotocols: []string{wsSubprotocol},
		HTTPClient:   &http.Client{Transport: &http.Transport{DialContext: smallBufferDialer.DialContext}},
	})
	initWS(t, slow, `{}`)
	sendWS(t, slow, query)
	fast := dialWS(t, srv, nil)
	initWS(t, fast, `{}`)
	sendWS(t, fast, query)
	waitForSubscribers(t, s, 2)

	// The slow client reads nothing from now on.
	for i := 0; s.streams.count() == 2; i++ {
		if i == 5000 {
			t.Fatal("5000 events and the client that reads nothing is still connected")
		}
		name := fmt.Sprintf("Store %d", i)
		start := time.Now()
		createStore(t, s, name)
		got := readWS(t, fast)
		if !strings.Contains(got, `"name":"`+name+`"`) {
			t.Fatalf("the fast client got %s, want the event of %s", got, name)
		}
		// However long the slow client's writes block (up to the write timeout), the fast
		// one's events do not wait for them.
		if d := time.Since(start); d >= writeTimeout {
			t.Fatalf("event %d reached the fast client after %v, as long as the write timeout", i, d)
		}
	}
	waitForSubscribers(t, s, 1)
	if msgs, code, _ := readUntilClose(t, slow); code != -1 || len(msgs) == 0 {
		t.Fatalf("the slow client got %d messages then close %d, want some then a dropped connection", len(msgs), code)
	}
}

// smallBufferDialer and smallBufferListener give their connections 4 KiB socket buffers
// (the kernel doubles them), where loopback's grow to megabytes.
var smallBufferDialer = &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
	var err error
	if cerr := c.Control(func(fd uintptr) {
		err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	}); cerr != nil {
		return cerr
	}
	return err
}}

type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		err = c.(*net.TCPConn).SetWriteBuffer(4096)
	}
	return c, err
}

// count is the number of open streams.
func (s *streams) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

// A page of another origin may open a socket only if CORS_ORIGINS allows that origin, as it
// may read HTTP responses only then; the server's own origin (and a client that sends none,
// not being a browser) always may.
func TestWebSocketFromAnotherOriginNeedsCORS(t *testing.T) {
	tests := []struct {
		name, origin string
		origins      []string
		accepted     bool
	}{
		{"no Origin", "", nil, true},
		{"the server's own origin", "self", nil, true},
		{"another origin", "https://shop.example", nil, false},
		{"an origin CORS allows", "https://shop.example", []string{"https://shop.example"}, true},
		{"an origin CORS does not allow", "https://evil.example", []string{"https://shop.example"}, false},
		{"any origin", "https://evil.example", []string{"*"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := streamServer(t, config.Config{CORS: config.CORS{Origins: tt.origins}})
			header := http.Header{}
			switch tt.origin {
			case "":
			case "self":
				header.Set("Origin", srv.URL)
			default:
				header.Set("Origin", tt.origin)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, wsURL(srv), &websocket.DialOptions{Subprotocols: []string{wsSubprotocol}, HTTPHeader: header})
			if accepted := err == nil; accepted != tt.accepted {
				t.Fatalf("accepted: %v (%v), want %v", accepted, err, tt.accepted)
			}
			if err != nil {
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("refused with %d, want 403", resp.StatusCode)
				}
				return
			}
			defer c.CloseNow()
			initWS(t, c, "")
		})
	}
}

// A socket's session is checked again before each operation: once it has ended (logout on
// another connection, here over HTTP), the socket's next operation closes it with 4403.
func TestWebSocketWhoseSessionEndedIsClosedAtItsNextOperation(t *testing.T) {
	s, srv := streamServer(t, config.Config{})
	token := register(t, s, "leaving@example.com")
	c := dialWS(t, srv, nil)
	initWS(t, c, `{"Authorization":"Bearer `+token+`"}`)
	sendWS(t, c, `{"id":"a","type":"subscribe","payload":{"query":"{ me { email } }"}}`)
	if got, want := readWS(t, c), `{"id":"a","type":"next","payload":{"data":{"me":{"email":"leaving@example.com"}}}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	readWS(t, c) // complete
	if rec := postGraphQL(s, `{"query":"mutation { logout }"}`, "Authorization", "Bearer "+token); rec.Code != http.StatusOK {
		t.Fatalf("logout: %d %s", rec.Code, rec.Body)
	}
	sendWS(t, c, `{"id":"b","type":"subscribe","payload":{"query":"{ me { email } }"}}`)
	if _, code, reason := readUntilClose(t, c); code != closeForbidden || reason != "Forbidden" {
		t.Fatalf("closed with %d %q, want 4403 Forbidden", code, reason)
	}
}

// goroutines counts storegraph's goroutines (those with a frame of its code, the tests' own
// aside), and says what they are doing. The rest (net/http's idle connections, the runtime's)
// come and go on their own.
func goroutines() (int, string) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var ours []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/storegraph/storegraph/") && !strings.Contains(g, "testing.tRunner") {
			ours = append(ours, g)
		}
	}
	return len(ours), strings.Join(ours, "\n\n")
}

// An idle connection holds one goroutine, its reader, whatever number of subscriptions it
// runs: each has a goroutine only while it sends what its events make.
func TestIdleWebSocketSubscriptionsHoldNoGoroutine(t *testing.T) {
	const subscriptions = 10
	s, srv := streamServer(t, config.Config{})
	waitForSubscribers(t, s, 0)
	before, _ := goroutines()
	c := dialWS(t, srv, nil)
	initWS(t, c, `{}`)
	for i := range subscriptions {
		sendWS(t, c, fmt.Sprintf(`{"id":"%d","type":"subscribe","payload":{"query":"subscription { storeEvents { store { name } } }"}}`, i))
	}
	waitForSubscribers(t, s, subscriptions)
	idle := func() bool { n, _ := goroutines(); return n == before+1 }
	if !eventually(waitLimit, idle) {
		n, stacks := goroutines()
		t.Fatalf("%d goroutines more with %d idle subscriptions, want 1 (the reader):\n%s", n-before, subscriptions, stacks)
	}

	createStore(t, s, "Woken")
	got := map[string]bool{}
	for range subscriptions {
		got[readWS(t, c)] = true
	}
	for i := range subscriptions {
		if want := fmt.Sprintf(`{"id":"%d","type":"next","payload":{"data":{"storeEvents":{"store":{"name":"Woken"}}}}}`, i); !got[want] {
			t.Fatalf("got %v, want %s among them", got, want)
		}
	}
	if !eventually(waitLimit, idle) {
		n, stacks := goroutines()
		t.Fatalf("%d goroutines more once the event is sent, want 1 (the reader):\n%s", n-before, stacks)
	}
}

// Every subscription of a connection gets every event, in the order of the log, however many
// arrive at once.
func TestWebSocketSubscriptionsGetEveryEventInOrder(t *testing.T) {
	const subscriptions, stores = 3, 50
	s, srv := streamServer(t, config.Config{})
	c := dialWS(t, srv, nil)
	initWS(t, c, `{}`)
	for i := range subscriptions {
		sendWS(t, c, fmt.Sprintf(`{"id":"%d","type":"subscribe","payload":{"query":"subscription { storeEvents { store { name } } }"}}`, i))
	}
	waitForSubscribers(t, s, subscriptions)
	for i := range stores {
		createStore(t, s, fmt.Sprintf("Store %d", i))
	}
	next := make([]int, subscriptions)
	for range subscriptions * stores {
		var m struct {
			ID      string
			Type    string
			Payload struct {
				Data struct {
					StoreEvents struct{ Store struct{ Name string } }
				}
			}
		}
		got := readWS(t, c)
		if err := json.Unmarshal([]byte(got), &m); err != nil {
			t.Fatal(err)
		}
		i, err := strconv.Atoi(m.ID)
		if err != nil || m.Type != "next" || i >= subscriptions {
			t.Fatalf("got %s, want a next of subscription 0 to %d", got, subscriptions-1)
		}
		if want := fmt.Sprintf("Store %d", next[i]); m.Payload.Data.StoreEvents.Store.Name != want {
			t.Fatalf("subscription %d got %s, want the event of %s", i, got, want)
		}
		next[i]++
	}
}

// The init timeout applies until connection_init only: a connection initialised in time stays
// open for as long as it answers the pings.
func TestWebSocketInitialisedInTimeOutlivesTheInitTimeout(t *testing.T) {
	const initTimeout, pingInterval = 100 * time.Millisecond, 50 * time.Millisecond
	_, srv := streamServer(t, config.Config{Streams: config.Streams{InitTimeout: initTimeout, PingInterval: pingInterval}})
	c := dialWS(t, srv, nil)
	initWS(t, c, `{}`)
	start := time.Now()
	for time.Since(start) < 3*initTimeout {
		if got := readWS(t, c); got != `{"type":"ping"}` {
			t.Fatalf("got %s, want the server's ping", got)
		}
		sendWS(t, c, `{"type":"pong"}`)
	}
	sendWS(t, c, `{"id":"q","type":"subscribe","payload":{"query":"{ stores { totalCount } }"}}`)
	if got, want := readWSSkippingPings(t, c), `{"id":"q","type":"next","payload":{"data":{"stores":{"totalCount":0}}}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// Messages larger than the connection's buffers (wsReadBuffer, wsWriteBuffer) pass whole,
// both ways.
func TestWebSocketMessagesLargerThanItsBuffers(t *testing.T) {
	s, srv := streamServer(t, config.Config{})
	var names []string
	for i := range 60 {
		names = append(names, fmt.Sprintf("%02d%s", i, strings.Repeat("n", storage.MaxNameLength-2)))
		createStore(t, s, names[i])
	}
	c := dialWS(t, srv, nil)
	initWS(t, c, `{}`)
	comment := "# " + strings.Repeat("c", 8*wsReadBuffer)
	sendWS(t, c, `{"id":"q","type":"subscribe","payload":{"query":"`+comment+`\n{ stores(first: 60) { nodes { name } } }"}}`)
	got := readWS(t, c)
	want := `{"id":"q","type":"next","payload":{"data":{"stores":{"nodes":[{"name":"` + strings.Join(names, `"},{"name":"`) + `"}]}}}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if len(got) <= 4*wsWriteBuffer {
		t.Fatalf("the response is %d bytes, want more than %d", len(got), 4*wsWriteBuffer)
	}
	if got, want := readWS(t, c), `{"id":"q","type":"complete"}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// A client may send its first messages right behind its upgrade request, before the
// handshake's response: what the server read ahead with the request is read as messages,
// whether it fits the connection's read buffer or not, and so is what the client sends
// once the connection has been idle.
func TestWebSocketMessagesSentWithTheUpgradeRequestAreRead(t *testing.T) {
	const (
		init  = `{"type":"connection_init"}`
		query = `{ stores { totalCount } }`
	)
	tests := []struct {
		name    string
		comment int // the length of a comment in the early subscribe's query
	}{
		{"within the read buffer", 0},
		{"beyond the read buffer", 2 * wsReadBuffer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := streamServer(t, config.Config{})
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			_ = conn.SetDeadline(time.Now().Add(waitLimit))
			subscribe := func(id, comment string) string {
				q, _ := json.Marshal(comment + query)
				return `{"id":"` + id + `","type":"subscribe","payload":{"query":` + string(q) + `}}`
			}
			comment := ""
			if tt.comment > 0 {
				comment = "#" + strings.Repeat("c", tt.comment) + "\n"
			}
			upgrade := "GET /graphql HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() +
				"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13" +
				"\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: " + wsSubprotocol + "\r\n\r\n"
			early := append([]byte(upgrade), clientFrame(init)...)
			early = append(early, clientFrame(subscribe("early", comment))...)
			if _, err := conn.Write(early); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(conn)
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("the handshake's status is %d, want 101", resp.StatusCode)
			}
			want := []string{`{"type":"connection_ack"}`,
				`{"id":"early","type":"next","payload":{"data":{"stores":{"totalCount":0}}}}`,
				`{"id":"early","type":"complete"}`}
			if got := serverMessages(t, r, len(want)); !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			if _, err := conn.Write(clientFrame(subscribe("late", ""))); err != nil {
				t.Fatal(err)
			}
			want = []string{`{"id":"late","type":"next","payload":{"data":{"stores":{"totalCount":0}}}}`,
				`{"id":"late","type":"complete"}`}
			if got := serverMessages(t, r, len(want)); !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

// clientFrame is msg as a client's text frame: masked, with a mask of zeros that leaves the
// payload as it is.
func clientFrame(msg string) []byte {
	frame := []byte{0x81}
	switch n := len(msg); {
	case n < 126:
		frame = append(frame, 0x80|byte(n))
	default:
		frame = append(frame, 0x80|126, byte(n>>8), byte(n))
	}
	frame = append(frame, 0, 0, 0, 0)
	return append(frame, msg...)
}

// serverMessages reads n unfragmented text frames from the server, skipping pings.
func serverMessages(t *testing.T, r *bufio.Reader, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		var head [2]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		size := int(head[1] & 0x7f)
		switch size {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(r, ext[:]); err != nil {
				t.Fatal(err)
			}
			size = int(ext[0])<<8 | int(ext[1])
		case 127:
			t.Fatalf("after %q: a frame of 64 KiB or more", got)
		}
		payload := make([]byte, size)
		if _, err := io.ReadFull(r, payload); err != nil {
			t.Fatal(err)
		}
		if head[0] != 0x81 {
			t.Fatalf("after %q: a frame whose first byte is %#x: %q", got, head[0], payload)
		}
		if string(payload) != `{"type":"ping"}` {
			got = append(got, string(payload))
		}
	}
	return got
}

// A WebSocket's request lasts as long as its connection, though its handler has returned:
// its access log line is written when the connection ends, with the statements of the
// connection's operations.
func TestWebSocketRequestIsLoggedWhenItsConnectionEnds(t *testing.T) {
	s, srv := streamServer(t, config.Config{})
	createStore(t, s, "Counted")
	s.logs.Reset()
	requests := func() []map[string]any {
		var lines []map[string]any
		for _, line := range logLines(t, s.logs.String()) {
			if line["msg"] == "request" {
				lines = append(lines, line)
			}
		}
		return lines
	}
	c := dialWS(t, srv, nil)
	initWS(t, c, `{}`)
	sendWS(t, c, `{"id":"q","type":"subscribe","payload":{"query":"{ stores { nodes { name } } }"}}`)
	if got, want := readWS(t, c), `{"id":"q","type":"next","payload":{"data":{"stores":{"nodes":[{"name":"Counted"}]}}}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if got, want := readWS(t, c), `{"id":"q","type":"complete"}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if lines := requests(); len(lines) != 0 {
		t.Fatalf("logged %v while the connection is open", lines)
	}

	c.Close(websocket.StatusNormalClosure, "")
	if !eventually(waitLimit, func() bool { return len(requests()) == 1 }) {
		t.Fatalf("logged %v once the connection has closed, want one request", requests())
	}
	line := requests()[0]
	if line["method"] != "GET" || line["status"] != float64(http.StatusSwitchingProtocols) {
		t.Fatalf("logged %v, want GET with status 101", line)
	}
	if n, _ := line["statements"].(float64); n < 1 {
		t.Fatalf("logged %v statements, want those of the query", line["statements"])
	}
}

// What a WebSocket carries of a credential (connection_init's token, good or forged, and the
// password behind it) reaches no log line, even at debug level.
func TestWebSocketCredentialsReachNoLogLine(t *testing.T) {
	s, srv := streamServer(t, config.Config{})
	token := register(t, s, "secret@example.com")
	forged := token[:len(token)-4] + "AAAA"

	bad := dialWS(t, srv, nil)
	sendWS(t, bad, `{"type":"connection_init","payload":{"Authorization":"Bearer `+forged+`"}}`)
	if _, code, reason := readUntilClose(t, bad); code != closeForbidden || reason != "Forbidden" {
		t.Fatalf("a forged token: closed with %d %q, want 4403 Forbidden", code, reason)
	}
	good := dialWS(t, srv, nil)
	initWS(t, good, `{"Authorization":"Bearer `+token+`"}`)
	sendWS(t, good, `{"id":"a","type":"subscribe","payload":{"query":"{ me { email } }"}}`)
	readWS(t, good)
	readWS(t, good) // complete
	good.Close(websocket.StatusNormalClosure, "")

	logs := s.logs.String()
	if !strings.Contains(logs, "access token refused") {
		t.Fatalf("the refusal was not logged at all:\n%s", logs)
	}
	signature := token[strings.LastIndex(token, ".")+1:]
	for _, secret := range []string{token, forged, signature, forged[strings.LastIndex(forged, ".")+1:], "web-test-password"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log shows %q:\n%s", secret, logs)
		}
	}
}
