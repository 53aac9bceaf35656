package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"

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
	hijacked := &smallBuffers{ResponseWriter: w}
	ws, err := websocket.Accept(hijacked, r, &t.accept)
	if err != nil {
		t.streams.leave()
		return // Accept has answered the handshake it refused
	}
	if ws.Subprotocol() != wsSubprotocol {
		// What graphql-ws's server does with a client that offers no subprotocol it knows:
		// the handshake succeeds, without one, and the socket is closed at once.
		_ = ws.Close(closeSubprotocolNotAcceptable, "Subprotocol not acceptable")
		t.streams.leave()
		return
	}
	ws.SetReadLimit(t.readLimit)
	hijacked.refill()
	c := &wsConn{t: t, ws: ws, exec: exec, upgradeAuthorization: r.Header["Authorization"], ops: map[string]*wsOperation{},
		conn: hijacked.conn, buffered: hijacked.reader, readable: readable(hijacked.conn), closed: make(chan struct{})}
	// The connection's reader is a goroutine of its own, and the handler returns: parked in
	// the read loop under every layer of the middleware, the handler's goroutine would keep
	// a stack of 16 KiB for as long as the connection lasts. The request lasts as long all
	// the same (its access log line, its metrics wait for done); net/http ends its context
	// when the handler returns, and ends nothing else of a hijacked connection's.
	done := graph.Detach(r.Context())
	c.ended = func() {
		done()
		t.streams.leave() // last: CloseStreams returns once the connections are logged
	}
	go c.serve(context.WithoutCancel(r.Context()))
}

// The buffers of a connection's reads and writes, in place of the 4 KiB each that net/http
// hands over with the connection: every idle connection holds them. A message the server
// sends is one write if it fits in wsWriteBuffer with its frame's header, two if not (the
// second straight from the message): an event with every field, its names 80 characters
// long, is about 600 bytes. The client's messages are few (subscribe, complete, pings).
const (
	wsReadBuffer  = 512
	wsWriteBuffer = 1024
)

// smallBuffers is a ResponseWriter whose Hijack hands the connection over with buffers of
// wsReadBuffer and wsWriteBuffer bytes, and keeps the connection and its reader.
type smallBuffers struct {
	http.ResponseWriter
	conn   net.Conn
	reader *bufio.Reader
	// early is how much the client sent that net/http had read ahead.
	early int
}

// refill puts back in the reader's buffer what net/http had read ahead: websocket.Accept
// moves it out, behind the reader, where the reader's wait for the client (see
// wsConn.awaitInput) would not see it.
func (w *smallBuffers) refill() {
	if w.early > 0 {
		_, _ = w.reader.Peek(w.early) // in memory: it neither waits nor fails
	}
}

func (w *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// net/http does nothing more with the buffers it hands over, but they stay referenced
	// from its connection for as long as the handler runs: emptied, they hold no memory.
	// What the client sent once the handshake's response was out, net/http may have begun
	// to read (a byte, to see whether the connection is still open): it moves to the small
	// buffer, unless there is more than that holds.
	r := brw.Reader
	switch w.early = r.Buffered(); {
	case w.early == 0:
		r = bufio.NewReaderSize(conn, wsReadBuffer)
		*brw.Reader = bufio.Reader{}
	case w.early <= wsReadBuffer:
		ahead, _ := r.Peek(w.early)
		r = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(ahead), conn), wsReadBuffer)
		_, _ = r.Peek(w.early) // from memory
		*brw.Reader = bufio.Reader{}
	}
	// net/http has flushed its writer: the handshake's response is out.
	*brw.Writer = bufio.Writer{}
	w.conn, w.reader = conn, r
	return conn, bufio.NewReadWriter(r, bufio.NewWriterSize(conn, wsWriteBuffer)), nil
}

// wsConn is one connection. Its reading goroutine (see Do) handles the client's
// messages in order. Whoever has a message to send writes it, one message at a time, under
// the write timeout. A timer closes the connection at the init timeout, then pings it; the
// streams' end closes it at shutdown. A query or mutation runs in a goroutine of its own; a
// subscription has none while it waits for its next event (see wsOperation).
type wsConn struct {
	t    *wsTransport
	ws   *websocket.Conn
	exec graphql.GraphExecutor
	// upgradeAuthorization is the upgrade request's Authorization header: nothing else of
	// the request is kept, which every idle connection would hold.
	upgradeAuthorization []string
	// conn is the hijacked connection; buffered is the reader's buffer over it, which only
	// the reader looks at outside a read, and only under readGate (see awaitInput);
	// readable parks the reader until the client has sent something.
	conn     net.Conn
	buffered *bufio.Reader
	readable func() error
	// readGate orders the reader's look at its buffer before the reads of a close handshake
	// begun by another goroutine: closing is set under it first. Under it too, the buffer
	// is given up while the reader waits, empty, for the client (see unpark).
	readGate sync.Mutex
	// closed is closed once a close that was begun has ended the connection.
	closed    chan struct{}
	closeOnce sync.Once

	// ctx is the connection's: it ends with the connection.
	ctx      context.Context
	cancel   context.CancelFunc
	lastRead atomic.Int64   // when a message last arrived, in Unix nanoseconds
	work     sync.WaitGroup // the operations running
	// stopShutdown stops the close at shutdown; ended ends the request, once the
	// connection has.
	stopShutdown func() bool
	ended        func()

	// Only the reading goroutine uses these.
	// opBase is what every operation's context is made from: ctx, with the principal once
	// connection_init has signed in.
	opBase              context.Context
	initReceived, acked bool
	// authorization is the credential the connection signed in with (connection_init's, or
	// the upgrade request's header), checked again before each operation: a session ended
	// since (logout, a password change) closes the connection with 4403 at its next one.
	authorization []string

	mu  sync.Mutex
	ops map[string]*wsOperation // the active operations by ID
	// timer fires at the init timeout, then every ping interval once connection_init has
	// arrived (initialised), until the reading has stopped.
	timer                *time.Timer
	initialised, stopped bool

	// writeMu makes the writes one message at a time, in the order they were sent, and a
	// close frame come after the messages written before it.
	writeMu sync.Mutex
	// closing says a close frame is on its way or the connection is gone: nothing more is
	// written.
	closing atomic.Bool
}

// wsMessage is a message of the protocol, as sent.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// serve sets the connection up, then reads from it.
func (c *wsConn) serve(ctx context.Context) {
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.opBase = c.ctx
	c.lastRead.Store(time.Now().UnixNano())
	c.mu.Lock()
	c.timer = time.AfterFunc(c.t.initTimeout, c.tick)
	c.mu.Unlock()
	c.stopShutdown = c.t.streams.onClose(func() { c.close(websocket.StatusGoingAway, c.t.streams.why()) })
	c.read()
}

// read handles the client's next message, then hands the connection on to a new goroutine
// of its own for the next; it ends the connection instead once the client has closed it, it
// has broken, or a message has closed it. Between two messages the reader is parked, for as
// long as the connection is idle, and a goroutine keeps the stack it grew to: 4 KiB once a
// message's handling has grown it, where the wait needs less than the 2 KiB a new goroutine
// starts with.
func (c *wsConn) read() {
	if c.readMessage() {
		go c.read()
		return
	}
	c.mu.Lock()
	c.stopped = true
	c.timer.Stop()
	c.mu.Unlock()
	c.stopShutdown()
	// The client closed, or the connection broke: nothing to say.
	c.closing.Store(true)
	c.cancel()
	c.work.Wait()
	_ = c.ws.CloseNow()
	c.ended()
}

// readMessage waits for the client's next message and handles it; false once the connection
// is to end.
func (c *wsConn) readMessage() (more bool) {
	defer func() {
		// No request's panic recovery is above this goroutine: a panic would end the process.
		if p := recover(); p != nil {
			c.t.log.ErrorContext(c.ctx, "connection panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			more = false
		}
	}()
	if c.awaitInput() != nil {
		return false
	}
	// Not c.ctx: every end of it closes the connection, which ends the read, and a read
	// under a context that can end would leave a registration on it for as long as the
	// connection lasts idle.
	_, data, err := c.ws.Read(context.Background())
	if err != nil {
		return false
	}
	c.lastRead.Store(time.Now().UnixNano())
	if code, reason := c.receive(data); code != 0 {
		c.close(code, reason)
		return false
	}
	return true
}

// close ends the connection with a close handshake once the messages written before are
// out (as graphql-ws's server sends them), and every operation with it.
func (c *wsConn) close(code websocket.StatusCode, reason string) {
	c.writeMu.Lock()
	c.readGate.Lock()
	closing := c.closing.Swap(true)
	c.unpark() // the handshake reads the client's close frame through the buffer
	c.readGate.Unlock()
	c.writeMu.Unlock()
	if closing {
		return
	}
	// The context ends after the handshake: a read cut short by it would drop the
	// connection before the close frame is out.
	_ = c.ws.Close(code, reason)
	c.cancel()
	c.closeOnce.Do(func() { close(c.closed) })
}

// drop ends the connection without a close frame, for a client that cannot take one.
func (c *wsConn) drop() {
	c.readGate.Lock()
	c.closing.Store(true)
	c.readGate.Unlock()
	_ = c.ws.CloseNow()
	c.cancel()
	c.closeOnce.Do(func() { close(c.closed) })
}

// errClosing is the reader's cue to stop: another goroutine has closed the connection.
var errClosing = errors.New("connection closing")

// awaitInput parks the reader until the client has sent something, unless its buffer holds
// some already. Once the connection is closing it leaves the buffer to the close handshake,
// which reads the client's close frame through it, waits for the close to end, and returns
// errClosing.
func (c *wsConn) awaitInput() error {
	c.readGate.Lock()
	if c.closing.Load() {
		c.readGate.Unlock()
		<-c.closed
		return errClosing
	}
	if c.buffered.Buffered() > 0 {
		c.readGate.Unlock()
		return nil
	}
	// Emptied, the buffer is given up while the connection is idle: every idle
	// connection would hold it, for the few messages a client sends.
	*c.buffered = bufio.Reader{}
	c.readGate.Unlock()
	err := c.readable()
	c.readGate.Lock()
	c.unpark()
	c.readGate.Unlock()
	return err
}

// unpark gives the reader its buffer back, if it gave it up (a reader given up has none).
// c.readGate must be held.
func (c *wsConn) unpark() {
	if c.buffered.Size() == 0 {
		*c.buffered = *bufio.NewReaderSize(c.conn, wsReadBuffer)
	}
}

// tick closes a connection that has not sent connection_init within the init timeout; after
// it, it pings the connection every ping interval, dropping it when it has sent nothing for
// two.
func (c *wsConn) tick() {
	c.mu.Lock()
	initialised, stopped := c.initialised, c.stopped
	c.mu.Unlock()
	switch {
	case stopped:
		return
	case !initialised:
		c.close(closeInitTimeout, "Connection initialisation timeout")
		return
	case time.Since(time.Unix(0, c.lastRead.Load())) >= 2*c.t.pingInterval:
		// As graphql-ws's server does, without a close handshake that a client that
		// answers nothing would not answer either.
		c.drop()
		return
	}
	if c.send(nil, pingMessage) {
		c.mu.Lock()
		if !c.stopped {
			c.timer.Reset(c.t.pingInterval)
		}
		c.mu.Unlock()
	}
}

// send writes data, a message of op's (nil: of the connection's own), unless the client has
// completed op or the connection is closing; it reports whether it wrote it. A client that
// cannot take the message within the write timeout is dropped: the expired write has cut
// the connection already (a close frame would not get through either).
func (c *wsConn) send(op *wsOperation, data []byte) bool {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.closing.Load() || op != nil && op.completed.Load() {
		return false
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.t.writeTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, data); err != nil {
		c.drop()
		return false
	}
	return true
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
		c.mu.Lock()
		c.initialised = true
		c.timer.Reset(c.t.pingInterval)
		c.mu.Unlock()
		return c.init(m.fields)
	case "ping":
		pong, _ := json.Marshal(wsMessage{Type: "pong", Payload: m.payload})
		c.send(nil, pong)
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
		values = c.upgradeAuthorization // the HTTP edge has checked it already
	}
	if ok {
		p, code, reason := c.signIn(values)
		if code != 0 {
			return code, reason
		}
		c.opBase = auth.WithPrincipal(c.opBase, p)
	}
	c.authorization = values
	c.acked = true
	c.send(nil, ackMessage)
	return 0, ""
}

// signIn checks credentials as the HTTP edge does; a non-zero code closes the connection.
func (c *wsConn) signIn(values []string) (auth.Principal, websocket.StatusCode, string) {
	ctx, cancel := context.WithTimeout(c.opBase, c.t.requestTimeout)
	defer cancel()
	p, err := c.t.signIn.principal(ctx, values)
	switch {
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		// The token may be good: the database could not say. graphql-ws's clients retry
		// after 1013 (and give up after 4403).
		c.t.log.WarnContext(c.opBase, "session check failed", "error", err.Error())
		return p, websocket.StatusTryAgainLater, "The service is temporarily unavailable; try again shortly."
	case err != nil:
		c.t.log.InfoContext(c.opBase, "access token refused", "reason", err.Error())
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
		op = &wsOperation{c: c, id: id}
		op.ctx, op.cancel = context.WithCancel(c.opBase)
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
		c.send(nil, encodeWSMessage(id, "error", payload))
		return 0, ""
	}
	c.work.Go(func() { c.run(op, params) })
	return 0, ""
}

// wsOperation is one subscribe message's operation. A subscription, once set up, has no
// goroutine of its own while it waits for its next event (see noticed).
type wsOperation struct {
	c      *wsConn
	id     string
	ctx    context.Context
	cancel context.CancelFunc
	// completed says the client sent complete for it: nothing more may be sent for it, and
	// its ID is free again (for an operation whose messages must not be taken for this one's).
	completed atomic.Bool

	// subscription is a subscription's responses, once set up (cancel ends it).
	subscription noticed
}

// run executes one operation: an error message if it is refused before execution (as
// graphql-ws sends validation errors), else a next message per response and complete; a
// subscription it sets up, then leaves to its notices.
func (c *wsConn) run(op *wsOperation, params *graphql.RawParams) {
	// The operation records what it learns apart from the connection (and from the
	// others, which run at the same time).
	info := &graph.RequestInfo{}
	ctx := graph.WithRequestInfo(graphql.StartOperationTrace(op.ctx), info)
	subscribed := false
	defer func() {
		// A panic outside the resolvers (gqlgen recovers theirs) would end the process:
		// this goroutine is no request's.
		if p := recover(); p != nil {
			c.panicked(ctx, op, p)
		}
		if !subscribed {
			c.release(op) // when the operation ends otherwise than by its last message
			op.cancel()
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
	subscription := opCtx.Operation.Operation == ast.Subscription
	if subscription {
		ctx = graph.WithDeliveryNotice(ctx, op.subscription.notice)
	}
	next, stop := dispatch(ctx, c.exec, opCtx, c.t.requestTimeout)
	// A subscription whose resolver refused it has no stream, only its errors (gqlgen
	// answers with them alone as soon as an error is presented, and every presented error
	// is recorded): it ends as a query does.
	if subscription && len(info.ErrorCodes()) == 0 {
		subscribed = true
		c.work.Add(1) // done when its last response is sent
		op.subscription.handOver(op.ctx, op, next, stop)
		return
	}
	defer stop()
	for resp := next(); resp != nil; resp = next() {
		// Marshalled before the next call, which overwrites a subscription's response.
		if !c.send(op, encodeWSMessage(op.id, "next", marshalResult(resp))) {
			return
		}
	}
	c.last(op, "complete", nil)
}

func (op *wsOperation) respond(next func() *graphql.Response) bool { return op.c.respond(op, next) }

func (op *wsOperation) finish() {
	op.cancel()
	op.c.release(op)
	op.c.work.Done()
}

// respond sends op's next response, or complete after its last; false when it has ended.
func (c *wsConn) respond(op *wsOperation, next func() *graphql.Response) (more bool) {
	defer func() {
		if p := recover(); p != nil {
			c.panicked(op.ctx, op, p)
			more = false
		}
	}()
	resp := next()
	if resp == nil {
		c.last(op, "complete", nil)
		return false
	}
	c.send(op, encodeWSMessage(op.id, "next", marshalResult(resp)))
	return true
}

// panicked logs a panic of op's execution, and ends op with an internal error.
func (c *wsConn) panicked(ctx context.Context, op *wsOperation, p any) {
	c.t.log.ErrorContext(ctx, "operation panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	c.last(op, "error", json.RawMessage(`[{"message":"internal error","extensions":{"code":"`+graph.CodeInternal+`"}}]`))
}

// last sends the message that ends op, its ID freed first: the client may reuse it as soon
// as it has the message.
func (c *wsConn) last(op *wsOperation, typ string, payload json.RawMessage) {
	c.release(op)
	c.send(op, encodeWSMessage(op.id, typ, payload))
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
