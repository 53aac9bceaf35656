package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The response media types of GraphQL over HTTP. application/graphql-response+json lets
// status codes tell request errors (400) from execution results (200); application/json is
// the legacy type, answered 200 whenever there is a GraphQL response at all.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// httpTransport is GET and POST as the GraphQL-over-HTTP spec has them. It replaces gqlgen's
// transports, which answer 422 for request errors under application/json, write "data": null
// next to them, accept a missing query, trailing data after the JSON body and parameters of
// the wrong type in a GET, and answer a body over the size limit with 200.
type httpTransport struct {
	maxBodyBytes int64 // zero: no limit
	admission    *admission
}

// maxRequestErrors bounds the errors of a request refused before execution: a document can
// break a validation rule in every field, and a hundred are enough to fix it by.
const maxRequestErrors = 100

var _ graphql.Transport = httpTransport{}

// Supports takes every GET and POST, Upgrade header or not: gqlgen's transports leave an
// Upgrade to its websocket transport, but this server has none, and curl --http2 sends
// Upgrade: h2c with ordinary requests.
func (httpTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodPost
}

func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if r.Method == http.MethodPost {
		// A malformed parameter (a charset without a value, say) is refused too, although
		// ParseMediaType still returns the media type with its error.
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != mediaJSON {
			WriteError(w, r, http.StatusUnsupportedMediaType, "Send GraphQL requests as Content-Type: application/json.", CodeUnsupportedMediaType)
			return
		}
		if t.maxBodyBytes > 0 {
			r.Body = http.MaxBytesReader(w, r.Body, t.maxBodyBytes)
		}
	}
	mediaType, ok := responseMediaType(r.Header.Get("Accept"))
	if !ok {
		writeErrorAs(w, r, mediaJSON, http.StatusNotAcceptable,
			"Accept application/graphql-response+json or application/json.", CodeNotAcceptable)
		return
	}
	start := graphql.Now()
	params, reqErr := readParams(r)
	if reqErr != nil {
		writeErrorAs(w, r, mediaType, reqErr.status, reqErr.message, reqErr.code)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	ctx := r.Context()
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if ctx.Err() != nil {
		// The request timed out or the client left while the document was checked.
		writeUnavailable(w, r, mediaType)
		return
	}
	if errs != nil {
		errs = errs[:min(len(errs), maxRequestErrors)]
		// The request never reached execution: a parse, validation, variable or limit error.
		status := http.StatusOK
		if mediaType == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		// No "data" entry at all: the spec tells request errors from execution by its absence.
		writeJSON(w, mediaType, status, struct {
			Errors     gqlerror.List  `json:"errors"`
			Extensions map[string]any `json:"extensions,omitempty"`
		}{resp.Errors, resp.Extensions})
		return
	}
	if opCtx.Operation.Operation == ast.Subscription {
		// One JSON response cannot carry a stream: executed, the subscription would wait for
		// its first event until the request timed out, and answer null.
		writeErrorAs(w, r, mediaType, http.StatusNotAcceptable, subscriptionNeedsStreamMessage, CodeNotAcceptable)
		return
	}
	if r.Method == http.MethodGet && opCtx.Operation.Operation != ast.Query {
		// GET must stay safe to repeat and cache. The document was parsed (through the query
		// cache) to find the operation; refuse a mutation with the method that works.
		w.Header().Set("Allow", http.MethodPost)
		writeErrorAs(w, r, mediaType, http.StatusMethodNotAllowed, "Mutations must be sent with POST.", CodeMethodNotAllowed)
		return
	}
	release, err := t.admission.acquire(ctx, operationCostOf(opCtx))
	switch {
	case errors.Is(err, errOverloaded):
		w.Header().Set("Retry-After", "1")
		writeErrorAs(w, r, mediaType, http.StatusServiceUnavailable, errBusy.message, CodeOverloaded)
		return
	case err != nil:
		writeUnavailable(w, r, mediaType)
		return
	}
	// The room is held until the response is written: its memory is what admission bounds.
	defer release()
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	writeResponse(w, mediaType, responses(ctx))
}

// subscriptionNeedsStreamMessage refuses a subscription asked for as one JSON response.
const subscriptionNeedsStreamMessage = "Subscriptions stream their events: send this request with Accept: text/event-stream (preferred to JSON), or over a WebSocket (graphql-transport-ws)."

// writeUnavailable answers a request whose context ended before it was executed.
func writeUnavailable(w http.ResponseWriter, r *http.Request, mediaType string) {
	writeErrorAs(w, r, mediaType, http.StatusServiceUnavailable, unavailableMessage, CodeUnavailable)
}

// responseMediaType picks the media type of the response from an Accept header: the
// acceptable one with the highest q, the first listed on a tie. No header, */* and
// application/* get application/json, which every client understands.
func responseMediaType(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}
	best, bestQ := "", 0.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil {
				continue
			}
		}
		var offer string
		switch mt {
		case mediaGraphQLResponse:
			offer = mediaGraphQLResponse
		case mediaJSON, "application/*", "*/*":
			offer = mediaJSON
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = offer, q
		}
	}
	return best, best != ""
}

// requestError is a request that is not a well-formed GraphQL-over-HTTP request.
type requestError struct {
	status        int
	message, code string
}

func badRequest(format string, args ...any) *requestError {
	return &requestError{http.StatusBadRequest, fmt.Sprintf(format, args...), CodeBadRequest}
}

// readParams reads query, operationName, variables and extensions from the URL of a GET or
// the JSON body of a POST, refusing anything the spec does not allow for them.
func readParams(r *http.Request) (*graphql.RawParams, *requestError) {
	var (
		params *graphql.RawParams
		err    *requestError
	)
	if r.Method == http.MethodGet {
		params, err = urlParams(r.URL.RawQuery)
	} else {
		params, err = bodyParams(r.Body)
	}
	if err != nil {
		return nil, err
	}
	// An automatic persisted query may name its document by hash alone.
	if _, persisted := params.Extensions["persistedQuery"]; params.Query == "" && !persisted {
		return nil, badRequest("Missing query: send the GraphQL document as the query parameter.")
	}
	return params, nil
}

func urlParams(rawQuery string) (*graphql.RawParams, *requestError) {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, badRequest("The URL's query string is malformed.")
	}
	params := &graphql.RawParams{Query: values.Get("query"), OperationName: values.Get("operationName")}
	var reqErr *requestError
	if params.Variables, reqErr = jsonObject("variables", []byte(values.Get("variables"))); reqErr != nil {
		return nil, reqErr
	}
	if params.Extensions, reqErr = jsonObject("extensions", []byte(values.Get("extensions"))); reqErr != nil {
		return nil, reqErr
	}
	return params, nil
}

func bodyParams(body io.Reader) (*graphql.RawParams, *requestError) {
	raw, err := io.ReadAll(body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &requestError{http.StatusRequestEntityTooLarge,
				fmt.Sprintf("The request body is larger than the limit of %d bytes.", tooLarge.Limit), CodePayloadTooLarge}
		}
		return nil, badRequest("The request body could not be read.")
	}
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return nil, badRequest("The request body is empty: send a JSON object with a query.")
	case raw[0] == '[':
		return nil, badRequest("Batched requests are not supported: send one operation per request.")
	case raw[0] != '{':
		return nil, badRequest("The request body must be a JSON object with a query.")
	}
	if params, ok := quickBodyParams(raw); ok {
		return params, nil
	}
	return decodeBodyParams(raw)
}

// decodeBodyParams reads a body that starts as an object, whatever it holds.
func decodeBodyParams(raw []byte) (*graphql.RawParams, *requestError) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, badRequest("The request body is not valid JSON: %s.", err)
	}
	params := &graphql.RawParams{}
	var reqErr *requestError
	if params.Query, reqErr = jsonString("query", fields["query"]); reqErr != nil {
		return nil, reqErr
	}
	if params.OperationName, reqErr = jsonString("operationName", fields["operationName"]); reqErr != nil {
		return nil, reqErr
	}
	if params.Variables, reqErr = jsonObject("variables", fields["variables"]); reqErr != nil {
		return nil, reqErr
	}
	if params.Extensions, reqErr = jsonObject("extensions", fields["extensions"]); reqErr != nil {
		return nil, reqErr
	}
	return params, nil
}

// isNull reports an absent parameter: missing, empty in a URL, or JSON null.
func isNull(raw []byte) bool { return len(raw) == 0 || string(raw) == "null" }

func jsonString(name string, raw json.RawMessage) (string, *requestError) {
	var s string
	if isNull(raw) {
		return "", nil
	}
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", badRequest("The %s parameter must be a string.", name)
	}
	return s, nil
}

// jsonObject decodes a map parameter. Numbers stay json.Number, as gqlgen's scalars expect.
func jsonObject(name string, raw []byte) (map[string]any, *requestError) {
	if isNull(raw) {
		return nil, nil
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, badRequest("The %s parameter must be a JSON object.", name)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("The %s parameter must be a JSON object.", name)
	}
	return m, nil
}

func writeJSON(w http.ResponseWriter, mediaType string, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		// Only malformed JSON from generated code gets here; gqlgen's Server turns the
		// panic into a 500.
		panic(err)
	}
	w.Header().Set("Content-Type", mediaType+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeResponse is writeJSON for an executed operation's response. When it is data alone,
// the data is written as it is, HTML-escaped as encoding/json escapes it, and not decoded
// again: json.Marshal checks and compacts every byte of a json.RawMessage, which on a large
// page cost more than writing it. The executors write compact JSON, so the bytes are the
// same.
func writeResponse(w http.ResponseWriter, mediaType string, resp *graphql.Response) {
	if resp == nil || len(resp.Errors) > 0 || resp.Label != "" || resp.Path != nil || resp.HasNext != nil || len(resp.Extensions) > 0 {
		writeJSON(w, mediaType, http.StatusOK, resp)
		return
	}
	w.Header().Set("Content-Type", mediaType+"; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(appendDataResponse(make([]byte, 0, len(resp.Data)+len(`{"data":}`)+16), resp.Data))
}

// appendDataResponse appends {"data":data} as json.Marshal writes a graphql.Response that
// holds only data (compact JSON): "null" for none, and <, >, &, U+2028 and U+2029 escaped.
func appendDataResponse(dst []byte, data json.RawMessage) []byte {
	dst = append(dst, `{"data":`...)
	if len(data) == 0 {
		return append(dst, "null}"...)
	}
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, data[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(data) && data[i+1] == 0x80 && data[i+2]&^1 == 0xA8:
			dst = append(dst, data[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[data[i+2]&0xF])
			start = i + 3
			i += 2
		}
	}
	dst = append(dst, data[start:]...)
	return append(dst, '}')
}

// writeErrorAs answers with one coded error and no data, recording the code in the
// request's RequestInfo (for metrics).
func writeErrorAs(w http.ResponseWriter, r *http.Request, mediaType string, status int, message, code string) {
	if info := requestInfo(r.Context()); info != nil {
		info.addCode(code)
	}
	writeJSON(w, mediaType, status, map[string]any{
		"errors": []map[string]any{{"message": message, "extensions": map[string]string{"code": code}}},
	})
}
