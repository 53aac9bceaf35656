package e2e

// The graphql-transport-ws protocol (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md)
// and the limits on streams, over the real binary.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// protocolInitTimeout is WS_INIT_TIMEOUT of the protocol tests' server.
const protocolInitTimeout = 300 * time.Millisecond

// startProtocolServer is a server with a short connection_init timeout and two
// subscriptions per connection at most.
func startProtocolServer(t *testing.T, env ...string) *server {
	t.Helper()
	return startServer(t, "postgres", storagetest.NewPostgres(t),
		append([]string{"WS_INIT_TIMEOUT=" + protocolInitTimeout.String(), "MAX_SUBSCRIPTIONS_PER_CONNECTION=2"}, env...)...)
}

func TestSubscriptionProtocolViolationsCloseWithTheirCode(t *testing.T) {
	t.Parallel()
	s := startProtocolServer(t)
	// A token of a session that has ended: refused like a forged one.
	ended := login(t, s.withToken(""), defaultUserEmail, defaultUserPassword)
	s.withToken(ended.AccessToken).OK(t, &struct{ Logout bool }{}, `mutation { logout }`, nil)

	init := func(payload any) func(t *testing.T, c *wsClient) {
		return func(t *testing.T, c *wsClient) {
			c.send(t, map[string]any{"type": "connection_init", "payload": payload})
		}
	}
	initOK := func(t *testing.T, c *wsClient) { c.init(t, map[string]any{}) }
	then := func(steps ...func(t *testing.T, c *wsClient)) func(t *testing.T, c *wsClient) {
		return func(t *testing.T, c *wsClient) {
			for _, step := range steps {
				step(t, c)
			}
		}
	}
	raw := func(text string) func(t *testing.T, c *wsClient) {
		return func(t *testing.T, c *wsClient) { c.sendRaw(t, text) }
	}
	subscribe := func(id string) func(t *testing.T, c *wsClient) {
		return func(t *testing.T, c *wsClient) { c.subscribe(t, id, storeEventsSubscription, nil) }
	}

	cases := []struct {
		name   string
		send   func(t *testing.T, c *wsClient)
		code   websocket.StatusCode
		reason string // "": any, as long as there is one
	}{
		{"no connection_init within WS_INIT_TIMEOUT", func(*testing.T, *wsClient) {}, 4408, "Connection initialisation timeout"},
		{"a second connection_init", then(initOK, init(map[string]any{})), 4429, "Too many initialisation requests"},
		{"subscribe before connection_init", subscribe("1"), 4401, "Unauthorized"},
		{"subscribe with an id already running", then(initOK, subscribe("a"), subscribe("a")), 4409, "Subscriber for a already exists"},
		{"a message that is not JSON", then(initOK, raw(`{"type":`)), 4400, ""},
		{"a message that is not JSON, before connection_init", raw(`not json`), 4400, ""},
		{"a message of an unknown type", then(initOK, raw(`{"type":"start","id":"1"}`)), 4400, ""},
		{"subscribe without an id", then(initOK, raw(`{"type":"subscribe","payload":{"query":"{ me { id } }"}}`)), 4400, ""},
		{"subscribe without a payload", then(initOK, raw(`{"type":"subscribe","id":"1"}`)), 4400, ""},
		{"a message without a type", then(initOK, raw(`{"id":"1"}`)), 4400, ""},
		{"connection_init with a forged token", init(map[string]any{"Authorization": "Bearer not.a.token"}), 4403, "Forbidden"},
		{"connection_init with an ended session's token", init(map[string]any{"Authorization": "Bearer " + ended.AccessToken}), 4403, "Forbidden"},
		{"connection_init with a token in headers that is not Bearer", init(map[string]any{"headers": map[string]any{"Authorization": "Basic b3duZXI6cHc="}}), 4403, "Forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The server's timer starts at the upgrade, before the client sees the handshake's
			// answer: measured from the dial, the wait is never shorter than the timeout.
			start := time.Now()
			c := openWS(t, s)
			tc.send(t, c)
			code, reason, ok := c.closed(streamWait)
			if !ok {
				t.Fatalf("the connection is still open %v later, want close %d", streamWait, tc.code)
			}
			if code != tc.code || (tc.reason != "" && reason != tc.reason) || reason == "" {
				t.Errorf("closed with %d %q, want %d %q", code, reason, tc.code, tc.reason)
			}
			if tc.code == 4408 {
				if took := time.Since(start); took < protocolInitTimeout || took > protocolInitTimeout+3*time.Second {
					t.Errorf("closed %v after the dial, want about WS_INIT_TIMEOUT=%v", took, protocolInitTimeout)
				}
			}
		})
	}

	t.Run("a connection that offers no graphql-transport-ws subprotocol is refused", func(t *testing.T) {
		t.Parallel()
		for _, offered := range [][]string{{}, {"graphql-ws"}} {
			ctx, cancel := context.WithTimeout(context.Background(), streamWait)
			c, resp, err := dialWS(ctx, s, wsDialOptions{subprotocols: offered})
			cancel()
			if err != nil {
				// Refused at the handshake: graphql-ws's own server answers 400 there too.
				if resp == nil || resp.StatusCode != http.StatusBadRequest {
					t.Errorf("offering %q: handshake failed with %v (response %v), want HTTP 400 or close 4406", offered, err, resp)
				}
				continue
			}
			code, reason, ok := c.closed(streamWait)
			if !ok || code != 4406 || reason != "Subprotocol not acceptable" {
				t.Errorf("offering %q: the server took the connection with subprotocol %q and closed it with %d %q (closed: %v), want 4406 %q",
					offered, c.conn.Subprotocol(), code, reason, ok, "Subprotocol not acceptable")
			}
			c.conn.CloseNow()
		}
	})
}

func TestSubscriptionProtocolAnswersPingsQueriesAndMutations(t *testing.T) {
	t.Parallel()
	s := startProtocolServer(t)

	t.Run("ping is answered with pong echoing its payload", func(t *testing.T) {
		c := openInitWS(t, s)
		c.sendRaw(t, `{"type":"ping","payload":{"n":7}}`)
		m := c.expect(t, "", "pong")
		if string(m.Payload) != `{"n":7}` {
			t.Errorf("pong payload %s, want {\"n\":7}", m.Payload)
		}
		c.sendRaw(t, `{"type":"ping"}`)
		c.expect(t, "", "pong")
	})

	// connection_init carries the bearer token in any of the forms clients send it; the
	// principal is that of every operation of the connection.
	me := s.token
	for _, tc := range []struct {
		name    string
		payload any
		email   string // "": anonymous
	}{
		{"Authorization", map[string]any{"Authorization": "Bearer " + me}, defaultUserEmail},
		{"authorization", map[string]any{"authorization": "Bearer " + me}, defaultUserEmail},
		{"headers.Authorization", map[string]any{"headers": map[string]any{"Authorization": "Bearer " + me}}, defaultUserEmail},
		{"no payload", nil, ""},
		{"an empty payload", map[string]any{}, ""},
	} {
		t.Run("connection_init with "+tc.name+" signs the connection in", func(t *testing.T) {
			c := openWS(t, s)
			c.init(t, tc.payload)
			c.subscribe(t, "q", `{ me { email } }`, nil)
			got := c.expect(t, "q", "next")
			want := `{"data":{"me":null}}`
			if tc.email != "" {
				want = fmt.Sprintf(`{"data":{"me":{"email":%q}}}`, tc.email)
			}
			if string(got.Payload) != want {
				t.Errorf("me over the socket: %s, want %s", got.Payload, want)
			}
			c.expect(t, "q", "complete")
		})
	}

	t.Run("a mutation over the socket is one next and complete", func(t *testing.T) {
		c := openInitWS(t, s)
		c.subscribe(t, "m", `mutation { createStore(input: {name: "Over the socket"}) { id name } }`, nil)
		var r struct {
			Data struct{ CreateStore Store } `json:"data"`
		}
		if err := json.Unmarshal(c.expect(t, "m", "next").Payload, &r); err != nil {
			t.Fatal(err)
		}
		c.expect(t, "m", "complete")
		if got := getStore(t, s, r.Data.CreateStore.ID); got == nil || got.Name != "Over the socket" {
			t.Errorf("store(id: %q) after the mutation over the socket: %+v", r.Data.CreateStore.ID, got)
		}

		anon := openWS(t, s)
		anon.init(t, map[string]any{})
		anon.subscribe(t, "m", `mutation { createStore(input: {name: "Anonymous socket"}) { id } }`, nil)
		m, err := anon.take("m", streamWait)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(m.Payload), `"UNAUTHENTICATED"`) {
			t.Errorf("an anonymous mutation over the socket: %s %s, want UNAUTHENTICATED", m.Type, m.Payload)
		}
	})
}

func TestSubscriptionServerPingsAndDropsClientsThatDoNotAnswer(t *testing.T) {
	t.Parallel()
	const interval = 200 * time.Millisecond
	s := startProtocolServer(t, "WS_PING_INTERVAL="+interval.String())

	answering := openInitWS(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), streamWait)
	defer cancel()
	silent, _, err := dialWS(ctx, s, wsDialOptions{noPong: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.conn.CloseNow() })
	silent.init(t, map[string]any{})

	// Two intervals without an answer end a connection: well within 25 of them, the silent
	// one has ended, and the answering one has seen ten pings and is still open.
	if _, _, ok := silent.closed(25 * interval); !ok {
		t.Errorf("a client that answers no ping is still connected %v later (it got %d pings)", 25*interval, silent.pings.Load())
	}
	if !eventually(25*interval, func() bool { return answering.pings.Load() >= 10 }) {
		t.Errorf("the answering client got %d pings in %v, want 10 at WS_PING_INTERVAL=%v", answering.pings.Load(), 25*interval, interval)
	}
	if !answering.isOpen() {
		code, reason, _ := answering.closed(0)
		t.Errorf("the server closed a client that answers its pings: %d %q", code, reason)
	}
}

func TestSubscriptionLimitPerConnection(t *testing.T) {
	t.Parallel()
	s := startProtocolServer(t) // MAX_SUBSCRIPTIONS_PER_CONNECTION=2
	base := baseEvent(t, s)
	after := vars{"after": base.Cursor}

	c := openInitWS(t, s)
	c.subscribe(t, "1", storeEventsSubscription, after)
	c.subscribe(t, "2", itemEventsSubscription, after)
	c.subscribe(t, "3", storeEventsSubscription, after)
	m := c.expect(t, "3", "error")
	var errs gqlErrors
	if err := json.Unmarshal(m.Payload, &errs); err != nil || len(errs) != 1 || errs[0].Extensions.Code != "SUBSCRIPTION_LIMIT_EXCEEDED" {
		t.Errorf("the third subscription's error: %s, want one error with code SUBSCRIPTION_LIMIT_EXCEEDED", m.Payload)
	}

	// The connection and its two subscriptions carry on.
	store := createStore(t, s, "Limited")
	item := createItem(t, s, store.ID, "Limited item", 1)
	for id, want := range map[string]liveEvent{
		"1": {Kind: "CREATED", StoreID: store.ID},
		"2": {Kind: "CREATED", StoreID: store.ID, ItemID: item.ID},
	} {
		e, err := wsStream{c: c, id: id}.next(streamWait)
		if e.Cursor = ""; err != nil || e != want {
			t.Errorf("subscription %s delivered %v, %v; want %v", id, e, err, want)
		}
	}

	// Once one completes, there is room for another: as soon as the server has taken the
	// complete.
	c.send(t, wsMessage{ID: "1", Type: "complete"})
	deadline := time.Now().Add(streamWait)
	for id := 4; ; id++ {
		c.subscribe(t, fmt.Sprint(id), storeEventsSubscription, after)
		e, err := wsStream{c: c, id: fmt.Sprint(id)}.next(streamWait)
		var errs gqlErrors
		if errors.As(err, &errs) && errs[0].Extensions.Code == "SUBSCRIPTION_LIMIT_EXCEEDED" && time.Now().Before(deadline) {
			continue
		}
		if e.Cursor = ""; err != nil || e != (liveEvent{Kind: "CREATED", StoreID: store.ID}) {
			t.Errorf("subscription %d, after one of two completed: %v, %v; want the store's creation", id, e, err)
		}
		break
	}
}

func TestStreamConnectionLimitAnswers503(t *testing.T) {
	t.Parallel()
	s := startServer(t, "postgres", storagetest.NewPostgres(t), "MAX_STREAM_CONNECTIONS=2")

	ws := openInitWS(t, s)
	sse := sseSubscribe(t, s, storeEventsSubscription, nil, "")
	defer sse.close()

	wantRefusal := func(what string, status int, body string) {
		t.Helper()
		var r struct{ Errors []gqlError }
		if err := json.Unmarshal([]byte(body), &r); status != http.StatusServiceUnavailable || err != nil ||
			len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "CONNECTION_LIMIT_EXCEEDED" {
			t.Errorf("%s beyond MAX_STREAM_CONNECTIONS: HTTP %d %s, want 503 with one error CONNECTION_LIMIT_EXCEEDED", what, status, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), streamWait)
	defer cancel()
	c, resp, err := dialWS(ctx, s, wsDialOptions{})
	if err == nil {
		c.conn.CloseNow()
		t.Error("a third stream connection (WebSocket) was accepted")
	} else if resp == nil {
		t.Errorf("WebSocket beyond the limit: %v, want HTTP 503", err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		wantRefusal("a WebSocket", resp.StatusCode, string(b))
	}
	req, err := sseRequest(ctx, s, http.MethodPost, storeEventsSubscription, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := openSSE(s, req); err == nil {
		st.close()
		t.Error("a third stream connection (SSE) was accepted")
	} else if refusal := (*httpRefusal)(nil); !errors.As(err, &refusal) {
		t.Errorf("SSE beyond the limit: %v, want HTTP 503", err)
	} else {
		wantRefusal("an SSE stream", refusal.status, refusal.body)
	}

	// Queries are no stream: they go on.
	createStore(t, s, "At the stream limit")
	// A stream that ends makes room.
	ws.conn.Close(websocket.StatusNormalClosure, "")
	if !eventually(streamWait, func() bool {
		c, _, err := dialWS(ctx, s, wsDialOptions{})
		if err == nil {
			c.conn.CloseNow()
		}
		return err == nil
	}) {
		t.Error("no room for a stream connection after one of the two closed")
	}
}

func TestStreamsEndOnSIGTERM(t *testing.T) {
	t.Parallel()
	s := startServerWith(t, "postgres", storagetest.NewPostgres(t), serverOptions{env: []string{"SHUTDOWN_TIMEOUT=30s"}, noExitCheck: true})
	base := baseEvent(t, s)
	ws := openInitWS(t, s)
	ws.subscribe(t, "1", storeEventsSubscription, vars{"after": base.Cursor})
	sse := sseSubscribe(t, s, storeEventsSubscription, vars{"after": base.Cursor}, "")
	store := createStore(t, s, "Before the signal")
	for name, st := range map[string]eventStream{"WebSocket": wsStream{c: ws, id: "1"}, "SSE": sse} {
		if e, err := st.next(streamWait); err != nil || e.StoreID != store.ID {
			t.Fatalf("%s before the signal: %v, %v", name, e, err)
		}
	}

	signalled := time.Now()
	if err := s.sigterm(); err != nil {
		t.Fatal(err)
	}
	code, reason, ok := ws.closed(streamWait)
	if !ok || code != websocket.StatusGoingAway || reason != "server shutting down" {
		t.Errorf("the WebSocket at SIGTERM: closed %v with %d %q, want 1001 %q", ok, code, reason, "server shutting down")
	}
	// The stream ends without complete: the subscription is not over, and graphql-sse
	// clients reconnect (elsewhere) to a stream that broke off. Its response ends whole,
	// not cut short: only a panic breaks one off.
	if _, err := sse.next(streamWait); err != errStreamEnded {
		t.Errorf("the SSE stream at SIGTERM: %v, want its response to end whole, without complete", err)
	}
	// Streams do not hold the shutdown for its grace period.
	if exit := s.Wait(t, stopTimeout); exit != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", exit)
	}
	t.Logf("exited %v after SIGTERM", time.Since(signalled).Round(time.Millisecond))
}

// TestSubscriptionSlowConsumerDoesNotStallOthers: one client stops reading (its socket's
// receive buffer is tiny, and heavy events fill it) while another reads: the reader gets
// every event promptly, and the server drops the one that does not read once a write to
// it has waited STREAM_WRITE_TIMEOUT.
func TestSubscriptionSlowConsumerDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	const writeTimeout = 3 * time.Second
	// A cluster of its own: see eachIsolatedDatabase.
	s := startServer(t, "postgres", startPGCluster(t).URL, "STREAM_WRITE_TIMEOUT="+writeTimeout.String())
	store := createStore(t, s, "Heavy")
	var items []string
	for i := range 100 {
		items = append(items, createItem(t, s, store.ID, fmt.Sprintf("%03d %s", i, strings.Repeat("x", 76)), 1).ID)
	}
	base := baseEvent(t, s)

	slow := dialSlowConsumer(t, s, `subscription($after: String) { itemEvents(after: $after) { cursor item { name
		store { items(first: 100) { nodes { id name price createdAt updatedAt } } } } } }`, vars{"after": base.Cursor})
	fast := openInitWS(t, s)
	fast.subscribe(t, "1", itemEventsSubscription, vars{"after": base.Cursor})
	fastStream := wsStream{c: fast, id: "1"}

	// One writer updates the items in turn; the fast client must see each update within
	// a second of its acknowledgement, far less than the write timeout a stall would last.
	const writes = 400
	const promptly = 1500 * time.Millisecond
	acked := make(chan time.Time, writes)
	go func() {
		for n := range writes {
			r, err := s.Post(t, `mutation($id: ID!, $p: Float!) { updateItem(id: $id, input: {price: $p}) { id } }`,
				vars{"id": items[n%len(items)], "p": n + 2})
			if err == nil && len(r.Errors) > 0 {
				err = gqlErrors(r.Errors)
			}
			if err != nil {
				t.Errorf("update %d: %v", n, err)
				close(acked)
				return
			}
			acked <- time.Now()
		}
		close(acked)
	}()
	var worst time.Duration
	for n := 0; ; n++ {
		at, ok := <-acked
		if !ok {
			if n != writes {
				t.Fatalf("only %d of %d writes done", n, writes)
			}
			break
		}
		e, err := fastStream.next(streamWait)
		if err != nil {
			t.Fatalf("event %d of the fast client: %v", n+1, err)
		}
		if want := items[n%len(items)]; e.Kind != "UPDATED" || e.ItemID != want {
			t.Fatalf("event %d of the fast client: %v, want UPDATED %s", n+1, e, want)
		}
		worst = max(worst, time.Since(at))
	}
	if worst > promptly {
		t.Errorf("the fast client got an event %v after its write was acknowledged, want at most %v", worst, promptly)
	}

	// The server gives up on the slow client once a write to it has waited the write
	// timeout: its process no longer holds the connection (a close frame cannot get through
	// a full buffer, so the client may never hear of it until it reads).
	if !eventually(writeTimeout+streamWait, func() bool {
		held, err := procHoldsConnectionFrom(s.Pid, slow.port)
		if err != nil {
			t.Fatal(err)
		}
		return !held
	}) {
		t.Errorf("the server still holds the slow client's connection %v after the writes", writeTimeout+streamWait)
	}
	got, end := slow.drain(streamWait)
	t.Logf("the fast client's longest wait: %v; the slow client took %d messages before its connection ended (%v)", worst, got, end)
	if end == nil {
		t.Errorf("the slow client is still connected after %d messages", got)
	}
	if got >= writes {
		t.Errorf("the slow client got all %d events: it was not slow enough to test anything", got)
	}
}

// slowConsumer is a WebSocket client that subscribes and then reads nothing, over a
// socket whose receive buffer is as small as the kernel allows: the server's writes to it
// soon block.
type slowConsumer struct {
	conn *websocket.Conn
	port int // the client's end of the connection
}

func dialSlowConsumer(t *testing.T, s *server, query string, variables vars) *slowConsumer {
	t.Helper()
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var setErr error
		err := rc.Control(func(fd uintptr) {
			setErr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024)
		})
		return errors.Join(err, setErr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), streamWait)
	defer cancel()
	var port int
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err == nil {
			port = c.LocalAddr().(*net.TCPAddr).Port
		}
		return c, err
	}
	conn, _, err := websocket.Dial(ctx, "ws://"+s.Addr+"/graphql", &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: &http.Transport{DialContext: dial}},
		Subprotocols: []string{wsSubprotocol},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	conn.SetReadLimit(-1)
	for _, m := range []any{
		map[string]any{"type": "connection_init"},
		map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query, "variables": variables}},
	} {
		b, _ := json.Marshal(m)
		if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, ack, err := conn.Read(ctx); err != nil || !strings.Contains(string(ack), `"connection_ack"`) {
		t.Fatalf("the slow consumer's connection_init: %s, %v", ack, err)
	}
	return &slowConsumer{conn: conn, port: port}
}

// drain reads what the server sent until the connection ends (end is why) or nothing
// more comes for quiet (end is nil: still connected).
func (sc *slowConsumer) drain(quiet time.Duration) (messages int, end error) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		_, _, err := sc.conn.Read(ctx)
		timedOut := ctx.Err() != nil
		cancel()
		switch {
		case err == nil:
			messages++
		case timedOut:
			return messages, nil
		default:
			return messages, err
		}
	}
}

// procHoldsConnectionFrom reports whether process pid has a TCP socket open whose peer is
// the local port clientPort (the server's end of a client's connection), by /proc.
func procHoldsConnectionFrom(pid, clientPort int) (bool, error) {
	sockets := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(table)
		if err != nil {
			return false, err
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) < 10 {
				continue
			}
			_, hexPort, _ := strings.Cut(f[2], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(p) == clientPort {
				sockets["socket:["+f[9]+"]"] = true
			}
		}
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && sockets[target] {
			return true, nil
		}
	}
	return false, nil
}
