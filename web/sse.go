package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/storegraph/storegraph/graph"
)

// mediaEventStream is what a client accepts to be answered with server-sent events.
const mediaEventStream = "text/event-stream"

// sseTransport serves GraphQL over server-sent events, in graphql-sse's distinct connections
// mode (https://github.com/enisdenjo/graphql-sse/blob/master/PROTOCOL.md): one operation per
// request, each of its responses a next event, then a complete event. Each event of a
// subscription carries its cursor as the SSE id, so that a client reconnecting with
// Last-Event-ID resumes right after the last event it got.
type sseTransport struct {
	streams      *streams
	maxBodyBytes int64 // zero: no limit
	// keepAlive is WS_PING_INTERVAL: a comment line then keeps proxies from timing out an
	// idle stream. writeTimeout bounds each write; requestTimeout each query and mutation.
	keepAlive, writeTimeout, requestTimeout time.Duration
	// log receives the panics of detached streams (see detach).
	log *slog.Logger
}

var _ graphql.Transport = (*sseTransport)(nil)

func (*sseTransport) Supports(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodPost) && acceptsEventStream(r.Header.Get("Accept"))
}

// acceptsEventStream reports whether an Accept header prefers text/event-stream to the JSON
// the HTTP transport answers with: by q, the first listed of equals. urql, for one, lists
// text/event-stream after the JSON types, for the streams it could take.
func acceptsEventStream(accept string) bool {
	best, bestQ := "", 0.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q, err := strconv.ParseFloat(cmp.Or(params["q"], "1"), 64)
		if err != nil || q <= bestQ {
			continue
		}
		switch mt {
		case mediaEventStream, "application/graphql-response+json", "application/json", "application/*", "*/*":
			best, bestQ = mt, q
		}
	}
	return best == mediaEventStream
}

func (t *sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	params, reqErr := t.params(w, r)
	if reqErr != nil {
		graph.WriteError(w, r, reqErr.status, reqErr.message, reqErr.code)
		return
	}
	// No request headers in the operation (params.Headers), as over WebSocket: nothing reads
	// them, and a subscription's operation lasts as long as its stream, which would keep them
	// (the bearer token among them) for that long, about 1 KB a stream.
	ctx := r.Context()
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		ctx = graph.WithResumeCursor(ctx, id)
	}
	ctx, cursor := graph.WithEventCursors(ctx)
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if ctx.Err() != nil {
		return // the client left while the document was checked
	}
	if errs == nil && r.Method == http.MethodGet && opCtx.Operation.Operation == ast.Mutation {
		// GET must stay safe to repeat; graphql-sse refuses it the same way.
		w.Header().Set("Allow", http.MethodPost)
		graph.WriteError(w, r, http.StatusMethodNotAllowed, "Mutations must be sent with POST.", graph.CodeMethodNotAllowed)
		return
	}
	if !t.streams.enter(w, r) {
		return
	}
	detached := false
	defer func() {
		if !detached {
			t.streams.leave()
		}
	}()
	// A subscription over HTTP/1 outlives the handler (see detach), on the connection alone:
	// the response says so, and the client opens another for its next request.
	detach := errs == nil && opCtx.Operation.Operation == ast.Subscription && r.ProtoMajor == 1

	s := &sseStream{out: responseOutput{w: w, rc: http.NewResponseController(w)}, writeTimeout: t.writeTimeout}
	h := w.Header()
	h.Set("Content-Type", mediaEventStream+"; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx would otherwise hold events back
	if detach {
		h.Set("Connection", "close")
	}
	w.WriteHeader(http.StatusOK)
	// A comment first: some browsers take the stream as open only once a line arrives.
	if !s.write(":\n\n") {
		return
	}
	if errs != nil {
		// The protocol has errors found before execution sent in the stream, as a next
		// event: a refused stream would tell an EventSource nothing of why.
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs[:min(len(errs), maxOperationErrors)])
		// No data entry, as over HTTP: its absence tells request errors from execution.
		_ = s.next(marshalResult(struct {
			Errors     gqlerror.List  `json:"errors"`
			Extensions map[string]any `json:"extensions,omitempty"`
		}{resp.Errors, resp.Extensions}), "") && s.complete()
		return
	}

	if opCtx.Operation.Operation != ast.Subscription {
		// A query or mutation: one response, within REQUEST_TIMEOUT, cut short at shutdown.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer t.streams.onClose(cancel)()
		next, stop := dispatch(ctx, exec, opCtx, t.requestTimeout)
		s.respond(next, stop, cursor)
		return
	}
	if detach {
		// The request's context ends when the handler returns; the stream's ends when the
		// client leaves, which the connection's reader sees.
		ctx = context.WithoutCancel(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	sub := &sseSubscription{t: t, s: s, ctx: ctx, cancel: cancel, cursor: cursor, ended: make(chan struct{})}
	ctx = graph.WithDeliveryNotice(ctx, sub.responses.notice)
	next, stop := dispatch(ctx, exec, opCtx, t.requestTimeout)
	if graph.OperationRefused(ctx) {
		// Refused by its resolver: no stream, only its errors, as a query's.
		defer cancel()
		s.respond(next, stop, cursor)
		return
	}
	if detach {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			detached = true
			sub.detach(r.Context(), conn)
		} else {
			// A ResponseWriter that cannot hand its connection over (a test's recorder):
			// the stream stays the handler's, and ends with the request.
			defer context.AfterFunc(r.Context(), cancel)()
		}
	} else {
		defer context.AfterFunc(r.Context(), cancel)()
	}
	sub.start(next, stop)
	if detached {
		return
	}
	<-sub.ended
	if sub.broken {
		// Part of the answer is out: abort the connection, so that the client sees a
		// broken response rather than a truncated one (the panic is logged).
		panic(http.ErrAbortHandler)
	}
}

// respond sends every response of next, then complete, unless the client stops taking them.
func (s *sseStream) respond(next func() *graphql.Response, stop context.CancelFunc, cursor func() string) {
	defer stop()
	for resp := next(); resp != nil; resp = next() {
		// Marshalled before the next call, which overwrites a subscription's response.
		if !s.next(marshalResult(resp), cursor()) {
			return
		}
	}
	s.complete()
}

// sseSubscription is a subscription's stream. Its responses are made as its delivery notices
// come (see noticed), and keep-alive comments between them by a timer: while it waits for its
// next event it has no goroutine, but, once detached, its connection's reader.
type sseSubscription struct {
	t *sseTransport
	s *sseStream
	// ctx is the stream's: cancel ends it. cursor labels each response with its event's.
	ctx       context.Context
	cancel    context.CancelFunc
	cursor    func() string
	responses noticed
	keepAlive *time.Timer
	stopClose func() bool // stops the streams' closing from cancelling ctx
	// end, once detached, ends the response (whole unless broken) and the request.
	end func(broken bool)

	// mu makes the writes one at a time. broken says a write failed or the operation
	// panicked, after which nothing more is written; done, that the stream has finished.
	mu           sync.Mutex
	broken, done bool
	ended        chan struct{} // closed once the stream has finished
}

// detach serves the stream on conn, hijacked from the handler, which returns: parked under
// every layer of the middleware for as long as the stream lasts, its goroutine would keep a
// stack of 16 KiB, net/http a goroutine of its own watching the connection, and both their
// buffers. The request lasts as long all the same: its access log line and its metrics wait
// for the stream's end (graph.Detach). req is the request's context.
func (sub *sseSubscription) detach(req context.Context, conn net.Conn) {
	done := graph.Detach(req)
	out := chunkedOutput{conn}
	sub.s.out = out
	sub.end = func(broken bool) {
		if !broken {
			// The response is whole, and the client reconnects if it wants more.
			_ = out.finish(time.Now().Add(sub.s.writeTimeout))
		}
		_ = conn.Close()
		done()
		sub.t.streams.leave() // last: CloseStreams returns once the streams are logged
	}
	// In the distinct connections mode a client sends nothing after its request: a read
	// ends when it leaves (or, told that the connection closes, sends something anyway).
	go func() {
		var b [1]byte
		_, _ = conn.Read(b[:])
		sub.cancel()
	}()
}

// start hands the subscription to its notices, with the keep-alive timer and the streams'
// closing, which ends it without complete: the client reconnects, with Last-Event-ID.
func (sub *sseSubscription) start(next func() *graphql.Response, stop context.CancelFunc) {
	sub.mu.Lock()
	sub.keepAlive = time.AfterFunc(sub.t.keepAlive, sub.ping)
	sub.mu.Unlock()
	sub.stopClose = sub.t.streams.onClose(sub.cancel)
	sub.responses.handOver(sub.ctx, sub, next, stop)
}

// ping writes a keep-alive comment, and sets the timer for the next.
func (sub *sseSubscription) ping() {
	if sub.write(":\n\n") {
		sub.mu.Lock()
		if !sub.done {
			sub.keepAlive.Reset(sub.t.keepAlive)
		}
		sub.mu.Unlock()
	}
}

// write sends text, unless the stream has broken or finished; a text the client does not
// take in time breaks it, and ends it.
func (sub *sseSubscription) write(text string) bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.broken || sub.done {
		return false
	}
	if !sub.s.write(text) {
		sub.broken = true
		sub.cancel()
		return false
	}
	return true
}

// respond sends the next response, or complete after the last; false once the stream has
// ended. A panic of the operation's is logged, and breaks the stream off.
func (sub *sseSubscription) respond(next func() *graphql.Response) (more bool) {
	defer func() {
		if p := recover(); p != nil {
			sub.t.log.ErrorContext(sub.ctx, "operation panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			sub.mu.Lock()
			sub.broken = true
			sub.mu.Unlock()
			more = false
		}
	}()
	resp := next()
	if resp == nil {
		// The subscription's own end; at the client's leaving or the streams' closing
		// (ctx ended), none: the client is to reconnect.
		if sub.ctx.Err() == nil {
			sub.write(completeEvent)
		}
		return false
	}
	return sub.write(nextEvent(marshalResult(resp), sub.cursor()))
}

// finish ends the stream once its last response is out: nothing is written after.
func (sub *sseSubscription) finish() {
	sub.stopClose()
	sub.cancel()
	sub.mu.Lock()
	sub.done = true
	sub.keepAlive.Stop()
	broken := sub.broken
	sub.mu.Unlock()
	if sub.end != nil {
		sub.end(broken)
	}
	close(sub.ended)
}

// sseStream writes events, each under the write timeout and sent at once.
type sseStream struct {
	out          sseOutput
	writeTimeout time.Duration
}

// sseOutput is where a stream's text goes: the response, or the connection once the
// stream has it (detach).
type sseOutput interface {
	send(text string, deadline time.Time) error
}

// responseOutput writes to the response, through net/http, which frames it.
type responseOutput struct {
	w  io.Writer
	rc *http.ResponseController
}

func (o responseOutput) send(text string, deadline time.Time) error {
	_ = o.rc.SetWriteDeadline(deadline)
	if _, err := io.WriteString(o.w, text); err != nil {
		return err
	}
	return o.rc.Flush()
}

// chunkedOutput writes to the connection itself, each text a chunk of the response that
// net/http began with Transfer-Encoding: chunked, in one write. text is never empty (an
// event or a comment): an empty chunk would end the response, which is finish's.
type chunkedOutput struct{ conn net.Conn }

func (o chunkedOutput) send(text string, deadline time.Time) error {
	return o.write(strconv.FormatInt(int64(len(text)), 16)+"\r\n"+text+"\r\n", deadline)
}

// finish writes the last chunk, which ends the response whole.
func (o chunkedOutput) finish(deadline time.Time) error { return o.write("0\r\n\r\n", deadline) }

func (o chunkedOutput) write(b string, deadline time.Time) error {
	_ = o.conn.SetWriteDeadline(deadline)
	_, err := io.WriteString(o.conn, b)
	return err
}

// write sends text; false when the client did not take it in time or has gone.
func (s *sseStream) write(text string) bool {
	return s.out.send(text, time.Now().Add(s.writeTimeout)) == nil
}

// next sends a next event with result, labelled with cursor if it has one.
func (s *sseStream) next(result []byte, cursor string) bool {
	return s.write(nextEvent(result, cursor))
}

func (s *sseStream) complete() bool { return s.write(completeEvent) }

// nextEvent is a next event with result, and cursor as the event's id if it has one.
func nextEvent(result []byte, cursor string) string {
	var id string
	if cursor != "" {
		id = "id: " + cursor + "\n"
	}
	// encoding/json writes no line breaks, which would end the data field.
	return "event: next\n" + id + "data: " + string(result) + "\n\n"
}

// completeEvent has the empty data field without which an EventSource does not dispatch it.
const completeEvent = "event: complete\ndata:\n\n"

// params reads the operation from the URL of a GET or the JSON body of a POST, as
// graphql-sse does: a malformed request is answered 400, a body of another type 415.
func (t *sseTransport) params(w http.ResponseWriter, r *http.Request) (*graphql.RawParams, *requestError) {
	var fields map[string]any
	if r.Method == http.MethodGet {
		var err *requestError
		if fields, err = urlFields(r.URL.RawQuery); err != nil {
			return nil, err
		}
	} else {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			return nil, &requestError{http.StatusUnsupportedMediaType, "Send GraphQL requests as Content-Type: application/json.", graph.CodeUnsupportedMediaType}
		}
		body := r.Body
		if t.maxBodyBytes > 0 {
			body = http.MaxBytesReader(w, body, t.maxBodyBytes)
		}
		raw, err := io.ReadAll(body)
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return nil, &requestError{http.StatusRequestEntityTooLarge,
				fmt.Sprintf("The request body is larger than the limit of %d bytes.", tooLarge.Limit), graph.CodePayloadTooLarge}
		case err != nil:
			return nil, badRequest("The request body could not be read.")
		}
		v, err := decodeJSON(raw)
		var ok bool
		if fields, ok = v.(map[string]any); err != nil || !ok {
			return nil, badRequest("The request body must be a JSON object with a query.")
		}
	}
	params, bad := operationParams(fields)
	if bad != nil {
		return nil, badRequest(fmt.Sprintf("The %s parameter must be %s.", bad.name, bad.want))
	}
	// An automatic persisted query may name its document by hash alone.
	if _, persisted := params.Extensions["persistedQuery"]; params.Query == "" && !persisted {
		return nil, badRequest("Missing query: send the GraphQL document as the query parameter.")
	}
	return params, nil
}

// urlFields are the operation parameters of a GET's query string, variables and
// extensions decoded from their JSON.
func urlFields(rawQuery string) (map[string]any, *requestError) {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, badRequest("The URL's query string is malformed.")
	}
	fields := map[string]any{}
	for _, name := range []string{"query", "operationName"} {
		if values.Has(name) {
			fields[name] = values.Get(name)
		}
	}
	for _, name := range []string{"variables", "extensions"} {
		if v := values.Get(name); v != "" {
			if fields[name], err = decodeJSON([]byte(v)); err != nil {
				return nil, badRequest(fmt.Sprintf("The %s parameter must be a JSON object.", name))
			}
		}
	}
	return fields, nil
}

// requestError is a request refused before its operation is read: an HTTP status and one
// coded error.
type requestError struct {
	status        int
	message, code string
}

func badRequest(message string) *requestError {
	return &requestError{http.StatusBadRequest, message, graph.CodeBadRequest}
}
