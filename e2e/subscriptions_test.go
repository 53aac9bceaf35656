package e2e

// Live updates (issue 10): subscriptions over WebSocket (the graphql-transport-ws
// subprotocol) and server-sent events (graphql-sse, distinct connections mode) on /graphql.
// The helpers of the subscription tests: a graphql-transport-ws client, an SSE reader, one
// interface over both for a subscription's events, and the events as the tests select them.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsSubprotocol is the only WebSocket subprotocol the server speaks.
const wsSubprotocol = "graphql-transport-ws"

// streamWait bounds every wait for a message that should come at once (an ack, an event
// of a write just acknowledged, a close): generous, for a loaded machine, and for the log's
// stamping, which waits for every transaction of the Postgres cluster to end, other tests'
// included.
const streamWait = 30 * time.Second

// wsMessage is one message of graphql-transport-ws.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient is one WebSocket connection speaking graphql-transport-ws. A goroutine reads
// its messages into a queue per operation id ("" for the connection's own: connection_ack,
// pong); it answers the server's pings, protocol messages and frames alike, unless the
// client was dialled with noPong.
type wsClient struct {
	conn *websocket.Conn

	mu      sync.Mutex
	queues  map[string][]wsMessage
	changed chan struct{} // closed and replaced whenever a message arrives
	done    chan struct{} // closed when reading ends
	readErr error         // why reading ended; valid once done is closed
	pings   atomic.Int32  // pings received from the server, protocol messages and frames
}

// wsDialOptions are the choices of dialWS beyond the server.
type wsDialOptions struct {
	subprotocols []string // nil: graphql-transport-ws only
	noPong       bool     // answer no ping, to look dead to the server's keep-alive
}

// dialWS opens a WebSocket to s's /graphql. A refused handshake is an error with the
// server's HTTP answer, whose body (its first KiB) the caller may read.
func dialWS(ctx context.Context, s *server, o wsDialOptions) (*wsClient, *http.Response, error) {
	if o.subprotocols == nil {
		o.subprotocols = []string{wsSubprotocol}
	}
	c := &wsClient{queues: map[string][]wsMessage{}, changed: make(chan struct{}), done: make(chan struct{})}
	conn, resp, err := websocket.Dial(ctx, "ws://"+s.Addr+"/graphql", &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: s.transport},
		Subprotocols: o.subprotocols,
		OnPingReceived: func(context.Context, []byte) bool {
			c.pings.Add(1)
			return !o.noPong
		},
	})
	if err != nil {
		return nil, resp, err
	}
	conn.SetReadLimit(-1)
	c.conn = conn
	go c.read(o.noPong)
	return c, resp, nil
}

// openWS dials s and fails t unless the handshake succeeds with graphql-transport-ws; the
// connection is closed when t ends.
func openWS(t testing.TB, s *server) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), streamWait)
	defer cancel()
	c, _, err := dialWS(ctx, s, wsDialOptions{})
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr, err)
	}
	if got := c.conn.Subprotocol(); got != wsSubprotocol {
		t.Fatalf("the server chose subprotocol %q, want %q", got, wsSubprotocol)
	}
	t.Cleanup(func() { c.conn.CloseNow() })
	return c
}

// openInitWS is openWS followed by connection_init with s's bearer token (none when s is
// anonymous) and its connection_ack.
func openInitWS(t testing.TB, s *server) *wsClient {
	t.Helper()
	c := openWS(t, s)
	payload := map[string]any{}
	if s.token != "" {
		payload["Authorization"] = "Bearer " + s.token
	}
	c.init(t, payload)
	return c
}

func (c *wsClient) read(noPong bool) {
	defer close(c.done)
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			return
		}
		var m wsMessage
		if err := json.Unmarshal(data, &m); err != nil {
			c.mu.Lock()
			c.readErr = fmt.Errorf("undecodable message %q: %w", data, err)
			c.mu.Unlock()
			c.conn.CloseNow()
			return
		}
		if m.Type == "ping" {
			c.pings.Add(1)
			if !noPong {
				pong, _ := json.Marshal(wsMessage{Type: "pong", Payload: m.Payload})
				_ = c.write(pong)
			}
			continue
		}
		c.mu.Lock()
		c.queues[m.ID] = append(c.queues[m.ID], m)
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

func (c *wsClient) write(data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), streamWait)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, data)
}

// sendRaw sends text as one message, as it is.
func (c *wsClient) sendRaw(t testing.TB, text string) {
	t.Helper()
	if err := c.write([]byte(text)); err != nil {
		t.Fatalf("send %s: %v", text, err)
	}
}

// send sends m, marshalled.
func (c *wsClient) send(t testing.TB, m any) {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	c.sendRaw(t, string(b))
}

// take returns the next message of operation id ("" for the connection's own), waiting
// up to d; an error when none came or the connection ended first.
func (c *wsClient) take(id string, d time.Duration) (wsMessage, error) {
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		if q := c.queues[id]; len(q) > 0 {
			c.queues[id] = q[1:]
			c.mu.Unlock()
			return q[0], nil
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-c.done:
			c.mu.Lock()
			empty := len(c.queues[id]) == 0
			c.mu.Unlock()
			if empty {
				return wsMessage{}, fmt.Errorf("%w: %w", errStreamEnded, c.readErr)
			}
		case <-timeout.C:
			return wsMessage{}, fmt.Errorf("%w within %v", errNothingCame, d)
		}
	}
}

// expect is take that fails t unless the message has type typ.
func (c *wsClient) expect(t testing.TB, id, typ string) wsMessage {
	t.Helper()
	m, err := c.take(id, streamWait)
	if err != nil {
		t.Fatalf("waiting for %s (id %q): %v", typ, id, err)
	}
	if m.Type != typ {
		t.Fatalf("got message %s %s (id %q), want %s", m.Type, m.Payload, m.ID, typ)
	}
	return m
}

// init sends connection_init with payload and waits for connection_ack.
func (c *wsClient) init(t testing.TB, payload any) {
	t.Helper()
	c.send(t, map[string]any{"type": "connection_init", "payload": payload})
	c.expect(t, "", "connection_ack")
}

// subscribe starts operation id.
func (c *wsClient) subscribe(t testing.TB, id, query string, variables vars) {
	t.Helper()
	payload := map[string]any{"query": query}
	if variables != nil {
		payload["variables"] = variables
	}
	c.send(t, map[string]any{"id": id, "type": "subscribe", "payload": payload})
}

// closed waits up to d for the connection to end and returns the close frame the server
// sent: code -1 when it ended without one.
func (c *wsClient) closed(d time.Duration) (code websocket.StatusCode, reason string, ok bool) {
	select {
	case <-c.done:
	case <-time.After(d):
		return 0, "", false
	}
	var ce websocket.CloseError
	if errors.As(c.readErr, &ce) {
		return ce.Code, ce.Reason, true
	}
	return -1, "", true
}

// isOpen reports whether the connection is still being read.
func (c *wsClient) isOpen() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// Why a stream gave no event.
var (
	errStreamEnded     = errors.New("the stream ended")
	errStreamCompleted = errors.New("the server completed the subscription")
	errNothingCame     = errors.New("no event came")
)

// gqlErrors are the GraphQL errors a stream answered with instead of an event.
type gqlErrors []gqlError

func (e gqlErrors) Error() string { return fmt.Sprintf("GraphQL errors %v", []gqlError(e)) }

// liveEvent is a StoreEvent or an ItemEvent as the subscription tests select them
// (storeEventsSubscription, itemEventsSubscription).
type liveEvent struct {
	Cursor  string `json:"cursor"`
	Kind    string `json:"kind"`
	StoreID string `json:"storeId"`
	ItemID  string `json:"itemId"` // "" for a store's event
}

func (e liveEvent) String() string {
	if e.ItemID != "" {
		return fmt.Sprintf("%s %s (store %s) @%s", e.Kind, e.ItemID, e.StoreID, e.Cursor)
	}
	return fmt.Sprintf("%s %s @%s", e.Kind, e.StoreID, e.Cursor)
}

// The subscriptions of the durability tests: nothing beyond what identifies the change.
const (
	storeEventsSubscription = `subscription($after: String) { storeEvents(after: $after) { cursor kind storeId } }`
	itemEventsSubscription  = `subscription($after: String, $store: ID) { itemEvents(storeId: $store, after: $after) { cursor kind itemId storeId } }`
)

// decodeEvent is the event of an ExecutionResult a stream carried, or its errors.
func decodeEvent(payload []byte) (liveEvent, error) {
	var r struct {
		Data   map[string]*liveEvent `json:"data"`
		Errors gqlErrors             `json:"errors"`
	}
	if err := json.Unmarshal(payload, &r); err != nil {
		return liveEvent{}, fmt.Errorf("undecodable result %q: %w", payload, err)
	}
	if len(r.Errors) > 0 {
		return liveEvent{}, r.Errors
	}
	for _, e := range r.Data {
		if e != nil && len(r.Data) == 1 {
			return *e, nil
		}
	}
	return liveEvent{}, fmt.Errorf("result %s carries no one event", payload)
}

// eventStream is one subscription's events, over either transport.
type eventStream interface {
	// next is the next event, waiting up to d. Otherwise it is errNothingCame,
	// errStreamEnded, errStreamCompleted or the gqlErrors the server answered with.
	next(d time.Duration) (liveEvent, error)
	close()
}

// wsStream is one subscription of a wsClient.
type wsStream struct {
	c  *wsClient
	id string
	// own: closing the stream closes the connection, which carries nothing else.
	own bool
}

func (s wsStream) next(d time.Duration) (liveEvent, error) {
	m, err := s.c.take(s.id, d)
	if err != nil {
		return liveEvent{}, err
	}
	switch m.Type {
	case "next":
		return decodeEvent(m.Payload)
	case "error":
		var errs gqlErrors
		if err := json.Unmarshal(m.Payload, &errs); err != nil || len(errs) == 0 {
			return liveEvent{}, fmt.Errorf("error message whose payload is not a list of GraphQL errors: %s", m.Payload)
		}
		return liveEvent{}, errs
	case "complete":
		return liveEvent{}, errStreamCompleted
	}
	return liveEvent{}, fmt.Errorf("unexpected message %s %s for subscription %s", m.Type, m.Payload, s.id)
}

func (s wsStream) close() {
	if s.own {
		s.c.conn.Close(websocket.StatusNormalClosure, "")
		return
	}
	if b, err := json.Marshal(wsMessage{ID: s.id, Type: "complete"}); err == nil {
		_ = s.c.write(b)
	}
}

// wsSubscribe starts a subscription on its own new connection to s, signed in as s is.
func wsSubscribe(t testing.TB, s *server, query string, variables vars) eventStream {
	t.Helper()
	c := openInitWS(t, s)
	c.subscribe(t, "1", query, variables)
	return wsStream{c: c, id: "1", own: true}
}

// sseEvent is one event of a text/event-stream.
type sseEvent struct {
	event, id, data string
	hasID           bool
}

// sseStream is one graphql-sse subscription (distinct connections mode): one response.
type sseStream struct {
	cancel context.CancelFunc
	events chan sseEvent // closed when the response ends
	mu     sync.Mutex
	err    error // why the response ended
}

// httpRefusal is the answer of a stream request that did not become a stream.
type httpRefusal struct {
	status int
	body   string
}

func (r *httpRefusal) Error() string {
	return fmt.Sprintf("HTTP %d instead of an event stream: %s", r.status, r.body)
}

// sseRequest is the request of a graphql-sse subscription, signed in as s is: a JSON
// POST, or a GET with the query in the URL; with Last-Event-ID when lastEventID is not "".
func sseRequest(ctx context.Context, s *server, method, query string, variables vars, lastEventID string) (*http.Request, error) {
	var body io.Reader
	target := s.BaseURL + "/graphql"
	if method == http.MethodGet {
		q := url.Values{"query": {query}}
		if variables != nil {
			b, err := json.Marshal(variables)
			if err != nil {
				return nil, err
			}
			q.Set("variables", string(b))
		}
		target += "?" + q.Encode()
	} else {
		b, err := json.Marshal(map[string]any{"query": query, "variables": variables})
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "text/event-stream")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	return req, nil
}

// openSSE sends req (see sseRequest) and returns its stream once the server answered with
// one; an *httpRefusal when it answered otherwise.
func openSSE(s *server, req *http.Request) (*sseStream, error) {
	ctx, cancel := context.WithCancel(req.Context())
	// No client timeout: a stream lasts as long as the test wants it.
	resp, err := (&http.Client{Transport: s.transport}).Do(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		cancel()
		return nil, &httpRefusal{status: resp.StatusCode, body: string(b)}
	}
	st := &sseStream{cancel: cancel, events: make(chan sseEvent, 1024)}
	go st.read(resp.Body)
	return st, nil
}

// sseSubscribe starts a subscription over server-sent events, signed in as s is, and
// fails t unless the server answers with a stream; the stream ends when t does.
func sseSubscribe(t testing.TB, s *server, query string, variables vars, lastEventID string) *sseStream {
	t.Helper()
	req, err := sseRequest(context.Background(), s, http.MethodPost, query, variables, lastEventID)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openSSE(s, req)
	if err != nil {
		t.Fatalf("subscribe over SSE: %v", err)
	}
	t.Cleanup(st.close)
	return st
}

// read parses the text/event-stream format: fields up to a blank line make an event;
// comments (keep-alives) are skipped.
func (st *sseStream) read(body io.ReadCloser) {
	defer body.Close()
	defer close(st.events)
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var ev sseEvent
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if ev.event != "" || len(data) > 0 {
				ev.data = strings.Join(data, "\n")
				st.events <- ev
			}
			ev, data = sseEvent{}, nil
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.event = value
		case "data":
			data = append(data, value)
		case "id":
			ev.id, ev.hasID = value, true
		}
	}
	st.mu.Lock()
	st.err = sc.Err()
	st.mu.Unlock()
}

// nextRaw is the next event of the stream as it came, waiting up to d.
func (st *sseStream) nextRaw(d time.Duration) (sseEvent, error) {
	select {
	case ev, ok := <-st.events:
		if !ok {
			st.mu.Lock()
			defer st.mu.Unlock()
			if st.err != nil {
				// Cut short: the response's end (its last chunk) never came.
				return sseEvent{}, fmt.Errorf("%w: %w", errStreamEnded, st.err)
			}
			return sseEvent{}, errStreamEnded
		}
		return ev, nil
	case <-time.After(d):
		return sseEvent{}, fmt.Errorf("%w within %v", errNothingCame, d)
	}
}

// next is the next subscription event. Every event of the log must carry its cursor as
// its id: a client that reconnects with Last-Event-ID resumes right after it.
func (st *sseStream) next(d time.Duration) (liveEvent, error) {
	ev, err := st.nextRaw(d)
	if err != nil {
		return liveEvent{}, err
	}
	switch ev.event {
	case "next":
		e, err := decodeEvent([]byte(ev.data))
		if err == nil && (!ev.hasID || ev.id != e.Cursor) {
			return e, fmt.Errorf("event %v came with id %q (id line present: %v), want its cursor %q", e, ev.id, ev.hasID, e.Cursor)
		}
		return e, err
	case "complete":
		return liveEvent{}, errStreamCompleted
	}
	return liveEvent{}, fmt.Errorf("unexpected SSE event %q with data %q", ev.event, ev.data)
}

func (st *sseStream) close() { st.cancel() }

// collect reads n events of st, failing t on anything else.
func collect(t testing.TB, st eventStream, n int) []liveEvent {
	t.Helper()
	var out []liveEvent
	for len(out) < n {
		e, err := st.next(streamWait)
		if err != nil {
			t.Fatalf("event %d of %d: %v (got so far: %v)", len(out)+1, n, err, out)
		}
		out = append(out, e)
	}
	return out
}

// expectErrors waits for st to answer with GraphQL errors instead of an event and returns
// them; it fails t when an event comes or nothing does.
func expectErrors(t testing.TB, st eventStream) gqlErrors {
	t.Helper()
	e, err := st.next(streamWait)
	var errs gqlErrors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v (event %v), want GraphQL errors", err, e)
	}
	return errs
}

// wantCodeField fails t unless errs is one error with code and field ("" requires none).
func wantCodeField(t testing.TB, errs gqlErrors, code, field string) {
	t.Helper()
	if len(errs) != 1 || errs[0].Extensions.Code != code || errs[0].Extensions.Field != field {
		t.Errorf("errors %v, want one with code %s and field %q", []gqlError(errs), code, field)
	}
}

// subscribeFromNow starts subscriptions without `after` on c (ids "1", "2", …) and waits
// until each is live: it calls probe (which must write something every subscription sees)
// until every subscription has delivered an event. A subscription without `after` starts
// wherever the log is when the server takes it, which the client cannot see: the caller
// writes a marker next and waits for it (skipTo) to know where its streams stand.
func subscribeFromNow(t testing.TB, c *wsClient, probe func(n int), queries ...subscriptionRequest) []eventStream {
	t.Helper()
	streams := make([]eventStream, len(queries))
	for i, q := range queries {
		id := fmt.Sprint(i + 1)
		c.subscribe(t, id, q.query, q.variables)
		streams[i] = wsStream{c: c, id: id}
	}
	live := make([]bool, len(queries))
	deadline := time.Now().Add(streamWait)
	for n := 0; slices.Contains(live, false); n++ {
		if time.Now().After(deadline) {
			t.Fatalf("the subscriptions %v did not deliver a probe within %v (delivered: %v)", queries, streamWait, live)
		}
		probe(n)
		for i, st := range streams {
			if live[i] {
				continue
			}
			_, err := st.next(200 * time.Millisecond)
			if err != nil && !errors.Is(err, errNothingCame) {
				t.Fatalf("subscription %v: %v", queries[i], err)
			}
			live[i] = err == nil
		}
	}
	return streams
}

// skipTo reads st up to the first event that match accepts, and returns it.
func skipTo(t testing.TB, st eventStream, match func(liveEvent) bool) liveEvent {
	t.Helper()
	for {
		e, err := st.next(streamWait)
		if err != nil {
			t.Fatalf("waiting for a marker event: %v", err)
		}
		if match(e) {
			return e
		}
	}
}

// isCreated matches the CREATED event of the store or item id.
func isCreated(id string) func(liveEvent) bool {
	return func(e liveEvent) bool {
		return e.Kind == "CREATED" && (e.ItemID == id || e.ItemID == "" && e.StoreID == id)
	}
}

// probeWrite makes one store event and one item event: it renames store probeStore and
// creates an item in it, whose id it returns.
func probeWrite(t testing.TB, s *server, probeStore string, n int) string {
	t.Helper()
	var d struct{ UpdateStore struct{ ID string } }
	s.OK(t, &d, `mutation($id: ID!, $n: String!) { updateStore(id: $id, input: {name: $n}) { id } }`,
		vars{"id": probeStore, "n": fmt.Sprintf("probe %s %d", probeStore, n)})
	return createItem(t, s, probeStore, fmt.Sprintf("probe %d", n), 1).ID
}

// baseEvent is an event of the log as it is now, whose cursor the caller subscribes
// after to receive exactly what it writes next. It writes to a store of its own.
func baseEvent(t testing.TB, s *server) liveEvent {
	t.Helper()
	c := openInitWS(t, s)
	defer c.conn.CloseNow()
	probe := createStore(t, s, fmt.Sprintf("base probe %d", time.Now().UnixNano())).ID
	streams := subscribeFromNow(t, c, func(n int) { probeWrite(t, s, probe, n) }, subscriptionRequest{query: itemEventsSubscription})
	marker := createItem(t, s, probe, "base", 1).ID
	return skipTo(t, streams[0], isCreated(marker))
}

// subscriptionRequest is a subscription document with its variables.
type subscriptionRequest struct {
	query     string
	variables vars
}

func (r subscriptionRequest) String() string {
	return fmt.Sprintf("%s %v", strings.Join(strings.Fields(r.query), " "), r.variables)
}
