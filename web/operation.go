package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/storegraph/storegraph/graph"
)

// What the stream transports share: reading an operation's parameters, and executing it.

// maxOperationErrors bounds the errors of an operation refused before execution, as over
// HTTP: a document can break a validation rule in every field, and a hundred are enough to
// fix it by.
const maxOperationErrors = 100

var errTrailingData = errors.New("data after the JSON value")

// decodeJSON decodes one JSON value, numbers as json.Number (as gqlgen's scalars expect),
// and refuses anything after it.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailingData
	}
	return v, nil
}

// paramError is an operation parameter of the wrong type: name must be want.
type paramError struct{ name, want string }

// operationParams reads query, operationName, variables and extensions from a JSON object
// (a WebSocket subscribe message's payload, an SSE request's body or URL): the first two
// must be strings, the others objects, each of them null or missing otherwise.
func operationParams(m map[string]any) (*graphql.RawParams, *paramError) {
	params := &graphql.RawParams{}
	for _, s := range []struct {
		name string
		dst  *string
	}{{"query", &params.Query}, {"operationName", &params.OperationName}} {
		switch v := m[s.name].(type) {
		case nil:
		case string:
			*s.dst = v
		default:
			return nil, &paramError{s.name, "a string"}
		}
	}
	for _, o := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
		switch v := m[o.name].(type) {
		case nil:
		case map[string]any:
			*o.dst = v
		default:
			return nil, &paramError{o.name, "a JSON object"}
		}
	}
	return params, nil
}

// dispatch executes op, and returns its responses, one per call, nil after the last; stop
// ends the work of a query or mutation. A query or mutation is bounded by REQUEST_TIMEOUT
// and takes room among the operations executing at once, as over HTTP (an OVERLOADED error
// when it finds none); a subscription lasts as long as its stream, which ends with ctx
// (the caller's to cancel: no context of its own, which every idle subscription would
// hold), and takes no room: the stream limits bound it.
func dispatch(ctx context.Context, exec graphql.GraphExecutor, op *graphql.OperationContext, requestTimeout time.Duration) (next func() *graphql.Response, stop context.CancelFunc) {
	if op.Operation.Operation == ast.Subscription {
		responses, ctx := exec.DispatchOperation(ctx, op)
		return func() *graphql.Response {
			// Each event records its errors' codes apart: the stream's own record would
			// grow with every event for as long as the stream lives.
			return responses(graph.WithRequestInfo(ctx, &graph.RequestInfo{}))
		}, func() {}
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	release, err := graph.Admit(ctx, op)
	if err != nil {
		refused := exec.DispatchError(graphql.WithOperationContext(ctx, op), gqlerror.List{gqlerror.WrapIfUnwrapped(err)})
		return oneResponse(refused), cancel
	}
	// The room is given back once the only response is made, or when the operation is
	// stopped before that.
	var once sync.Once
	done := func() { once.Do(release) }
	responses, ctx := exec.DispatchOperation(ctx, op)
	return func() *graphql.Response {
			defer done()
			return responses(ctx)
		}, func() {
			done()
			cancel()
		}
}

// oneResponse is a response stream of resp alone.
func oneResponse(resp *graphql.Response) func() *graphql.Response {
	return func() *graphql.Response {
		r := resp
		resp = nil
		return r
	}
}

// marshalResult is an execution result as JSON, which encoding/json writes without line
// breaks (SSE's data field ends at one).
func marshalResult(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only malformed JSON from generated code gets here
	}
	return b
}
