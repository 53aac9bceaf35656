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
	params.Headers = r.Header
	ctx := r.Context()
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		ctx = graph.WithResumeCursor(ctx, id)
	}
	ctx, cursors := graph.WithEventCursors(ctx)
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

	if detach {
		// The request's context ends when the handler returns; the stream's ends when the
		// client leaves, which the connection's reader sees.
		ctx = context.WithoutCancel(ctx)
	}
	// A subscription ends with ctx alone, which the producer's end cancels.
	ctx, cancel := context.WithCancel(ctx)
	next, stop := dispatch(ctx, exec, opCtx, t.requestTimeout)
	p := produce(ctx, next, cursors)
	if detach {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			detached = true
			t.detach(ctx, r.Context(), conn, s, p, stop, cancel)
			return
		}
		// A ResponseWriter that cannot hand its connection over (a test's recorder): the
		// handler serves the stream, and ends it when the request ends.
		defer context.AfterFunc(r.Context(), cancel)()
	}
	if panicked, _ := t.serve(ctx, s, p, stop, cancel); panicked != nil {
		// Recovered on the handler's goroutine (the middleware logs it), where on the
		// producer's it would end the process.
		panic(panicked)
	}
}

// detach serves a subscription's stream on conn, hijacked from the handler, which returns:
// parked under every layer of the middleware for as long as the stream lasts, its goroutine
// would keep a stack of 16 KiB, net/http a goroutine of its own watching the connection, and
// both their buffers. The request lasts as long all the same: its access log line and its
// metrics wait for the stream's end (graph.Detach). ctx is the stream's, which cancel ends;
// req is the request's.
func (t *sseTransport) detach(ctx, req context.Context, conn net.Conn, s *sseStream, p *producer, stop, cancel context.CancelFunc) {
	done := graph.Detach(req)
	s.out = chunkedOutput{conn}
	// In the distinct connections mode a client sends nothing after its request: a read
	// ends when it leaves (or, having been told the connection closes, sends anything).
	go func() {
		var b [1]byte
		_, _ = conn.Read(b[:])
		cancel()
	}()
	go func() {
		defer func() {
			done()
			t.streams.leave() // last: CloseStreams returns once the streams are logged
		}()
		panicked, stack := t.serve(ctx, s, p, stop, cancel)
		if panicked != nil {
			t.log.ErrorContext(req, "operation panicked", "panic", fmt.Sprint(panicked), "stack", string(stack))
			_ = conn.Close() // a broken response rather than a truncated one
			return
		}
		s.end()
	}()
}

// producer runs an operation's response function on a goroutine of its own, handing each
// response on as an event; events is closed after the last.
type producer struct {
	events <-chan sseEvent
	// panicked is what the response function panicked with, and where; set once events is
	// closed.
	panicked any
	stack    []byte
}

type sseEvent struct {
	result []byte
	cursor string
}

func produce(ctx context.Context, next func() *graphql.Response, cursors <-chan string) *producer {
	// Unbuffered: a client that reads slowly makes its subscription lag (and catch up from
	// the change log) rather than events pile up here.
	events := make(chan sseEvent)
	p := &producer{events: events}
	go func() {
		defer close(events)
		defer func() {
			if p.panicked = recover(); p.panicked != nil {
				p.stack = debug.Stack()
			}
		}()
		for resp := next(); resp != nil; resp = next() {
			// Marshalled here: a subscription's response is in gqlgen's buffer, which its
			// next call overwrites.
			e := sseEvent{result: marshalResult(resp)}
			// A subscription's resolver has put the event's cursor in the slot before the
			// event itself; a query's response has none.
			select {
			case e.cursor = <-cursors:
			default:
			}
			select {
			case events <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	return p
}

// serve writes p's events, and keep-alive comments between them, until the last (then
// complete), the client's leaving, a write the client does not take, or the streams'
// closing. Once it returns nothing executes; it reports what the operation panicked with.
// ctx is the stream's: cancel ends it.
func (t *sseTransport) serve(ctx context.Context, s *sseStream, p *producer, stop, cancel context.CancelFunc) (panicked any, stack []byte) {
	defer func() {
		stop()
		cancel()
		for range p.events { // nothing executes once serve has returned
		}
		panicked, stack = p.panicked, p.stack
	}()
	keepAlive := time.NewTicker(t.keepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case e, ok := <-p.events:
			if !ok {
				if p.panicked == nil {
					s.complete()
				}
				return
			}
			if !s.next(e.result, e.cursor) {
				return
			}
		case <-keepAlive.C:
			if !s.write(":\n\n") {
				return
			}
		case <-t.streams.closed():
			// Ended without complete: the client reconnects, with Last-Event-ID.
			return
		case <-ctx.Done():
			return
		}
	}
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
// net/http began with Transfer-Encoding: chunked, in one write.
type chunkedOutput struct{ conn net.Conn }

func (o chunkedOutput) send(text string, deadline time.Time) error {
	_ = o.conn.SetWriteDeadline(deadline)
	_, err := io.WriteString(o.conn, strconv.FormatInt(int64(len(text)), 16)+"\r\n"+text+"\r\n")
	return err
}

// write sends text; false when the client did not take it in time or has gone.
func (s *sseStream) write(text string) bool {
	return s.out.send(text, time.Now().Add(s.writeTimeout)) == nil
}

// end finishes a detached stream's response with the last chunk, and closes its connection.
func (s *sseStream) end() {
	if o, ok := s.out.(chunkedOutput); ok {
		_ = o.conn.SetWriteDeadline(time.Now().Add(s.writeTimeout))
		_, _ = io.WriteString(o.conn, "0\r\n\r\n")
		_ = o.conn.Close()
	}
}

// next sends a next event with result, and its cursor as the event's id if it has one.
func (s *sseStream) next(result []byte, cursor string) bool {
	var id string
	if cursor != "" {
		id = "id: " + cursor + "\n"
	}
	// encoding/json writes no line breaks, which would end the data field.
	return s.write("event: next\n" + id + "data: " + string(result) + "\n\n")
}

// complete sends the complete event, with the empty data field without which an
// EventSource does not dispatch it.
func (s *sseStream) complete() bool { return s.write("event: complete\ndata:\n\n") }

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
