package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/coder/websocket"

	"github.com/storegraph/storegraph/auth"
	"github.com/storegraph/storegraph/graph"
	"github.com/storegraph/storegraph/storage"
)

// wsSubprotocol is the only WebSocket subprotocol served: graphql-ws's
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md).
const wsSubprotocol = "graphql-transport-ws"

// The protocol's close codes. Their reasons are those graphql-ws's server (src/server.ts)
// closes with, but for 4400, which says what was wrong with the message.
const (
	closeBadRequest               websocket.StatusCode = 4400
	closeUnauthorized             websocket.StatusCode = 4401
	closeForbidden                websocket.StatusCode = 4403
	closeSubprotocolNotAcceptable websocket.StatusCode = 4406
	closeInitTimeout              websocket.StatusCode = 4408
	closeSubscriberExists         websocket.StatusCode = 4409
	closeTooManyInits             websocket.StatusCode = 4429
)

// maxCloseReason is the longest reason a close frame has room for (RFC 6455: 125 bytes of
// payload, 2 of them the code).
const maxCloseReason = 123

// The messages the server sends that carry nothing of their own.
var (
	ackMessage  = []byte(`{"type":"connection_ack"}`)
	pingMessage = []byte(`{"type":"ping"}`)
)

// wsTransport serves GraphQL over WebSocket: subscriptions, and queries and mutations too,
// many at once on one connection.
type wsTransport struct {
	streams *streams
	signIn  bearer
	log     *slog.Logger
	accept  websocket.AcceptOptions
	// readLimit bounds one message from the client (MAX_BODY_BYTES); -1: no limit.
	readLimit int64
	// initTimeout, pingInterval and writeTimeout are WS_INIT_TIMEOUT, WS_PING_INTERVAL and
	// STREAM_WRITE_TIMEOUT; requestTimeout bounds each query and mutation.
	initTimeout, pingInterval, writeTimeout, requestTimeout time.Duration
	// maxOperations bounds the operations one connection runs at once.
	maxOperations int
}

var _ graphql.Transport = (*wsTransport)(nil)

func (*wsTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func (t *wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if !t.streams.enter(w, r) {
		return
	}
	defer t.streams.leave()
	ws, err := websocket.Accept(w, r, &t.accept)
	if err != nil {
		return // Accept has answered the handshake it refused
	}
	if ws.Subprotocol() != wsSubprotocol {
		// What graphql-ws's server does with a client that offers no subprotocol it knows:
		// the handshake succeeds, without one, and the socket is closed at once.
		_ = ws.Close(closeSubprotocolNotAcceptable, "Subprotocol not acceptable")
		return
	}
	ws.SetReadLimit(t.readLimit)
	c := &wsConn{
		t: t, ws: ws, exec: exec, headers: r.Header,
		out:         make(chan wsOutbound),
		initialised: make(chan struct{}),
		ops:         map[string]*wsOperation{},
	}
	c.serve(r.Context())
}

// wsConn is one connection. Its reading goroutine (the handler's) handles the client's
// messages in order; one writing goroutine sends everything, each message under the write
// timeout; a watching goroutine times the initialisation and the pings and ends the
// connection at shutdown; each operation runs in a goroutine of its own.
type wsConn struct {
	t       *wsTransport
	ws      *websocket.Conn
	exec    graphql.GraphExecutor
	headers http.Header

	// ctx is the connection's: every operation's is made from it, with the principal once
	// connection_init has signed in. Only the reading goroutine uses it.
	ctx    context.Context
	cancel context.CancelFunc
	// out is unbuffered: what a client does not take in time ends the connection, and an
	// operation waiting to send holds nothing more than its next message (a subscription
	// meanwhile lags and catches up from the change log).
	out         chan wsOutbound
	initialised chan struct{} // closed when connection_init arrives
	lastRead    atomic.Int64  // when a message last arrived, in Unix nanoseconds
	work        sync.WaitGroup

	// Only the reading goroutine uses these.
	initReceived, acked bool
	// authorization is the credential the connection signed in with (connection_init's, or
	// the upgrade request's header), checked again before each operation: a session ended
	// since (logout, a password change) closes the connection with 4403 at its next one.
	authorization []string

	mu  sync.Mutex
	ops map[string]*wsOperation // the active operations by ID
}

// wsOperation is one subscribe message's operation.
type wsOperation struct {
	id     string
	ctx    context.Context
	cancel context.CancelFunc
	// completed says the client sent complete for it: nothing more may be sent for it, and
	// its ID is free again (for an operation whose messages must not be taken for this one's).
	completed atomic.Bool
}

// wsOutbound is a message for the writer; op is nil for the connection's own. A close
// ends the connection instead, after the messages before it.
type wsOutbound struct {
	op    *wsOperation
	data  []byte
	close *websocket.CloseError
}

// wsMessage is a message of the protocol, as sent.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func (c *wsConn) serve(ctx context.Context) {
	c.ctx, c.cancel = context.WithCancel(ctx)
	ctx = c.ctx
	defer func() {
		c.cancel()
		c.work.Wait()
		_ = c.ws.CloseNow() // the client closed, or the connection broke: nothing to say
	}()
	c.lastRead.Store(time.Now().UnixNano())
	c.work.Go(func() { c.write(ctx) })
	c.work.Go(func() { c.watch(ctx) })
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			return
		}
		c.lastRead.Store(time.Now().UnixNano())
		if code, reason := c.receive(data); code != 0 {
			c.close(ctx, code, reason)
			return
		}
	}
}

// close has the writer end the connection with a close handshake once the messages sent
// before are out (as graphql-ws's server sends them), and every operation with it.
func (c *wsConn) close(ctx context.Context, code websocket.StatusCode, reason string) {
	c.send(ctx, wsOutbound{close: &websocket.CloseError{Code: code, Reason: reason}})
}

// drop ends the connection without a close frame, for a client that cannot take one.
func (c *wsConn) drop() {
	_ = c.ws.CloseNow()
	c.cancel()
}

// write sends the messages. A client that cannot take one within the write timeout is
// dropped: the expired write has cut the connection already (a close frame would not get
// through either).
func (c *wsConn) write(ctx context.Context) {
	for {
		var m wsOutbound
		select {
		case <-ctx.Done():
			return
		case m = <-c.out:
		}
		if m.close != nil {
			// The context ends after the handshake: a read cut short by it would drop the
			// connection before the close frame is out.
			_ = c.ws.Close(m.close.Code, m.close.Reason)
			c.cancel()
			return
		}
		if m.op != nil && m.op.completed.Load() {
			continue
		}
		writeCtx, cancel := context.WithTimeout(ctx, c.t.writeTimeout)
		err := c.ws.Write(writeCtx, websocket.MessageText, m.data)
		cancel()
		if err != nil {
			c.drop()
			return
		}
	}
}

// watch closes a connection not initialised within the init timeout, then pings it every
// ping interval, dropping it when it has sent nothing for two; at shutdown it closes it
// with 1001.
func (c *wsConn) watch(ctx context.Context) {
	initTimer := time.NewTimer(c.t.initTimeout)
	defer initTimer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-c.t.streams.closed():
		c.close(ctx, websocket.StatusGoingAway, c.t.streams.why())
		return
	case <-initTimer.C:
		c.close(ctx, closeInitTimeout, "Connection initialisation timeout")
		return
	case <-c.initialised:
	}
	pings := time.NewTicker(c.t.pingInterval)
	defer pings.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.t.streams.closed():
			c.close(ctx, websocket.StatusGoingAway, c.t.streams.why())
			return
		case <-pings.C:
		}
		if time.Since(time.Unix(0, c.lastRead.Load())) >= 2*c.t.pingInterval {
			// As graphql-ws's server does, without a close handshake that a client that
			// answers nothing would not answer either.
			c.drop()
			return
		}
		c.send(ctx, wsOutbound{data: pingMessage})
	}
}

// send hands m to the writer; false when ctx ended first.
func (c *wsConn) send(ctx context.Context, m wsOutbound) bool {
	select {
	case c.out <- m:
		return true
	case <-ctx.Done():
		return false
	}
}

// receive handles one message from the client; a code other than 0 closes the connection
// with it.
func (c *wsConn) receive(data []byte) (websocket.StatusCode, string) {
	m, invalid := parseWSMessage(data)
	if invalid != "" {
		return closeBadRequest, limitCloseReason(invalid, "Invalid message received")
	}
	switch m.typ {
	case "connection_init":
		if c.initReceived {
			return closeTooManyInits, "Too many initialisation requests"
		}
		c.initReceived = true
		close(c.initialised)
		return c.init(m.fields)
	case "ping":
		pong, _ := json.Marshal(wsMessage{Type: "pong", Payload: m.payload})
		c.send(c.ctx, wsOutbound{data: pong})
	case "subscribe":
		if !c.acked {
			return closeUnauthorized, "Unauthorized"
		}
		return c.subscribe(m.id, m.params)
	case "complete":
		c.mu.Lock()
		op := c.ops[m.id]
		delete(c.ops, m.id)
		c.mu.Unlock()
		if op != nil {
			op.completed.Store(true)
			op.cancel()
		}
	}
	return 0, "" // a pong needs nothing: that it arrived is noted
}

// init signs the connection in with the token connection_init's payload carries, if any,
// and acknowledges it. Without one, the connection is anonymous, or signed in with the
// upgrade request's own Authorization header.
func (c *wsConn) init(payload map[string]any) (websocket.StatusCode, string) {
	values, ok := initAuthorization(payload)
	if !ok {
		values = c.headers["Authorization"] // the HTTP edge has checked it already
	}
	if ok {
		p, code, reason := c.signIn(values)
		if code != 0 {
			return code, reason
		}
		c.ctx = auth.WithPrincipal(c.ctx, p)
	}
	c.authorization = values
	c.acked = true
	c.send(c.ctx, wsOutbound{data: ackMessage})
	return 0, ""
}

// signIn checks credentials as the HTTP edge does; a non-zero code closes the connection.
func (c *wsConn) signIn(values []string) (auth.Principal, websocket.StatusCode, string) {
	ctx, cancel := context.WithTimeout(c.ctx, c.t.requestTimeout)
	defer cancel()
	p, err := c.t.signIn.principal(ctx, values)
	switch {
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		// The token may be good: the database could not say. graphql-ws's clients retry
		// after 1013 (and give up after 4403).
		c.t.log.WarnContext(c.ctx, "session check failed", "error", err.Error())
		return p, websocket.StatusTryAgainLater, "The service is temporarily unavailable; try again shortly."
	case err != nil:
		c.t.log.InfoContext(c.ctx, "access token refused", "reason", err.Error())
		return p, closeForbidden, "Forbidden"
	}
	return p, 0, ""
}

// initAuthorization is the Authorization value of a connection_init payload, where clients
// put it: {"Authorization": ...}, {"authorization": ...} or {"headers": {"Authorization": ...}}.
// A value that is not a string is there, and unusable.
func initAuthorization(payload map[string]any) ([]string, bool) {
	headers, _ := payload["headers"].(map[string]any)
	for _, m := range []map[string]any{payload, headers} {
		for _, key := range []string{"Authorization", "authorization"} {
			if v, ok := m[key]; ok {
				s, _ := v.(string)
				return []string{s}, true
			}
		}
	}
	return nil, false
}

// subscribe starts the operation id names, unless the ID is taken (which closes the
// connection) or the connection runs as many operations as it may (which refuses this one).
func (c *wsConn) subscribe(id string, params *graphql.RawParams) (websocket.StatusCode, string) {
	if c.authorization != nil {
		if _, code, reason := c.signIn(c.authorization); code != 0 {
			return code, reason
		}
	}
	c.mu.Lock()
	_, taken := c.ops[id]
	full := len(c.ops) >= c.t.maxOperations
	var op *wsOperation
	if !taken && !full {
		op = &wsOperation{id: id}
		op.ctx, op.cancel = context.WithCancel(c.ctx)
		c.ops[id] = op
	}
	c.mu.Unlock()
	switch {
	case taken:
		return closeSubscriberExists, limitCloseReason("Subscriber for "+id+" already exists", "Subscriber already exists")
	case full:
		payload, _ := json.Marshal([]map[string]any{{
			"message":    fmt.Sprintf("This connection runs %d operations, the most it may; complete one first.", c.t.maxOperations),
			"extensions": map[string]string{"code": graph.CodeSubscriptionLimitExceeded},
		}})
		c.send(c.ctx, wsOutbound{data: encodeWSMessage(id, "error", payload)})
		return 0, ""
	}
	params.Headers = c.headers
	// The operation records what it learns apart from the connection (and from the
	// others, which run at the same time).
	ctx := graph.WithRequestInfo(graphql.StartOperationTrace(op.ctx), &graph.RequestInfo{})
	c.work.Go(func() { c.run(ctx, op, params) })
	return 0, ""
}

// run executes one operation: an error message if it is refused before execution (as
// graphql-ws sends validation errors), else a next message per response and complete.
func (c *wsConn) run(ctx context.Context, op *wsOperation, params *graphql.RawParams) {
	defer op.cancel()
	defer c.release(op) // when the operation ends otherwise than by its last message
	defer func() {
		// A panic outside the resolvers (gqlgen recovers theirs) would end the process:
		// this goroutine is no request's.
		if p := recover(); p != nil {
			c.t.log.ErrorContext(ctx, "operation panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			c.last(op, "error", json.RawMessage(`[{"message":"internal error","extensions":{"code":"`+graph.CodeInternal+`"}}]`))
		}
	}()
	now := graphql.Now()
	params.ReadTime = graphql.TraceTiming{Start: now, End: now}
	opCtx, errs := c.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs[:min(len(errs), maxOperationErrors)])
		c.last(op, "error", marshalResult(resp.Errors))
		return
	}
	next, stop := dispatch(ctx, c.exec, opCtx, c.t.requestTimeout)
	defer stop()
	for resp := next(); resp != nil; resp = next() {
		// Marshalled before the next call, which overwrites a subscription's response.
		if !c.send(op.ctx, wsOutbound{op: op, data: encodeWSMessage(op.id, "next", marshalResult(resp))}) {
			return
		}
	}
	c.last(op, "complete", nil)
}

// last sends the message that ends op, its ID freed first: the client may reuse it as soon
// as it has the message.
func (c *wsConn) last(op *wsOperation, typ string, payload json.RawMessage) {
	c.release(op)
	c.send(op.ctx, wsOutbound{op: op, data: encodeWSMessage(op.id, typ, payload)})
}

// release frees op's ID, unless the client has completed op and reused the ID already.
func (c *wsConn) release(op *wsOperation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ops[op.id] == op {
		delete(c.ops, op.id)
	}
}

func encodeWSMessage(id, typ string, payload json.RawMessage) []byte {
	b, err := json.Marshal(wsMessage{ID: id, Type: typ, Payload: payload})
	if err != nil {
		panic(err) // payload is JSON this package made
	}
	return b
}

// limitCloseReason is reason, or fallback when reason is too long for a close frame (as
// graphql-ws limits its own).
func limitCloseReason(reason, fallback string) string {
	if len(reason) > maxCloseReason {
		return fallback
	}
	return reason
}

// wsInbound is a message from the client that parseWSMessage has found valid.
type wsInbound struct {
	typ, id string
	payload json.RawMessage    // as sent: a ping's, echoed by its pong
	fields  map[string]any     // connection_init's payload
	params  *graphql.RawParams // subscribe's
}

// parseWSMessage reads a client's message, or says what makes it invalid, checking what
// graphql-ws's validateMessage checks (src/common.ts), in its words.
func parseWSMessage(data []byte) (wsInbound, string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return wsInbound{}, "Message is expected to be a JSON object"
	}
	var m wsInbound
	typ, ok := jsonString(fields["type"])
	switch raw := string(fields["type"]); {
	case raw == "" || raw == "null" || ok && typ == "":
		return m, "Message is missing the 'type' property"
	case !ok:
		return m, "Message expects the 'type' property to be a string"
	}
	m.typ = typ
	if payload := fields["payload"]; string(payload) != "null" {
		m.payload = payload
	}
	switch typ {
	case "connection_init", "ping", "pong":
		if m.payload == nil {
			return m, ""
		}
		v, err := decodeJSON(m.payload)
		if m.fields, ok = v.(map[string]any); err != nil || !ok {
			return m, fmt.Sprintf("%q message expects the 'payload' property to be an object or nullish or missing", typ)
		}
	case "subscribe", "complete":
		if m.id, ok = jsonString(fields["id"]); !ok || m.id == "" {
			return m, fmt.Sprintf("%q message requires a non-empty 'id' property", typ)
		}
		if typ == "complete" {
			return m, ""
		}
		v, err := decodeJSON(m.payload)
		payload, ok := v.(map[string]any)
		if err != nil || !ok {
			return m, `"subscribe" message expects the 'payload' property to be an object`
		}
		if _, ok := payload["query"].(string); !ok {
			return m, `"subscribe" message payload expects the 'query' property to be a string`
		}
		var bad *paramError
		if m.params, bad = operationParams(payload); bad != nil {
			return m, fmt.Sprintf(`"subscribe" message payload expects the '%s' property to be %s`, bad.name, bad.want)
		}
	case "connection_ack", "next", "error":
		return m, fmt.Sprintf("Unexpected message of type %s received", typ)
	default:
		return m, fmt.Sprintf("Invalid message 'type' property %q", typ)
	}
	return m, ""
}

// jsonString is raw's string, if raw is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}
