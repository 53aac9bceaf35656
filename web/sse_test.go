package web

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/config"
)

// requestSSE sends a request for an event stream to srv's /graphql; header is name, value
// pairs. The response's body is closed when the test ends.
func requestSSE(t *testing.T, srv *httptest.Server, method, rawQuery, body string, header ...string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel) // which also ends a read left waiting
	r, err := http.NewRequestWithContext(ctx, method, srv.URL+"/graphql?"+rawQuery, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Accept", "text/event-stream")
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func postSSE(t *testing.T, srv *httptest.Server, body string, header ...string) *http.Response {
	t.Helper()
	return requestSSE(t, srv, http.MethodPost, "", body, header...)
}

// sseStreamReader reads an event stream block by block (the lines up to a blank one).
type sseStreamReader struct{ r *bufio.Reader }

// openSSE checks that resp is an event stream and returns its reader.
func openSSE(t *testing.T, resp *http.Response) *sseStreamReader {
	t.Helper()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("got %d %q %s, want 200 text/event-stream; charset=utf-8", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	s := &sseStreamReader{bufio.NewReader(resp.Body)}
	if got := s.next(t); got != ":" {
		t.Fatalf("the stream began with %q, want a comment", got)
	}
	return s
}

// block is the next block, without its final blank line.
func (s *sseStreamReader) block() (string, error) {
	var lines []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return strings.Join(lines, "\n") + line, err
		}
		if line == "\n" {
			return strings.Join(lines, "\n"), nil
		}
		lines = append(lines, strings.TrimSuffix(line, "\n"))
	}
}

func (s *sseStreamReader) next(t *testing.T) string {
	t.Helper()
	b, err := s.block()
	if err != nil {
		t.Fatalf("reading the stream: %q, %v", b, err)
	}
	return b
}

// nextEvent is the next block other than a comment.
func (s *sseStreamReader) nextEvent(t *testing.T) string {
	t.Helper()
	for {
		if b := s.next(t); b != ":" {
			return b
		}
	}
}

// A query (or mutation) over SSE is one next event, then complete, and the stream ends; so
// is an operation refused before execution, its errors the next event's (graphql-sse
// reports validation errors in the stream, where an EventSource can read them).
func TestSSEOperationIsOneNextThenComplete(t *testing.T) {
	s, srv := streamServer(t, config.Config{})
	token := register(t, s, "sse@example.com")
	tests := []struct {
		name, method, rawQuery, body, token, want string
	}{
		{"a POST", http.MethodPost, "", `{"query":"{ stores { totalCount } }"}`, "",
			`{"data":{"stores":{"totalCount":0}}}`},
		{"a GET", http.MethodGet, "query=" + url.QueryEscape("query($n: Int) { stores(first: $n) { totalCount } }") + "&variables=" + url.QueryEscape(`{"n":1}`), "", "",
			`{"data":{"stores":{"totalCount":0}}}`},
		{"signed in with the Authorization header", http.MethodPost, "", `{"query":"{ me { email } }"}`, token,
			`{"data":{"me":{"email":"sse@example.com"}}}`},
		{"a mutation", http.MethodPost, "", `{"query":"mutation { createStore(input: {name: \"Streamed\"}) { name } }"}`, token,
			`{"data":{"createStore":{"name":"Streamed"}}}`},
		{"a validation error", http.MethodGet, "query=" + url.QueryEscape("{ nope }"), "", "",
			`{"errors":[{"message":"Cannot query field \"nope\" on type \"Query\". Did you mean \"node\" or \"nodes\"?","locations":[{"line":1,"column":3}],"extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header []string
			if tt.token != "" {
				header = []string{"Authorization", "Bearer " + tt.token}
			}
			stream := openSSE(t, requestSSE(t, srv, tt.method, tt.rawQuery, tt.body, header...))
			rest, err := io.ReadAll(stream.r)
			if want := "event: next\ndata: " + tt.want + "\n\nevent: complete\ndata:\n\n"; err != nil || string(rest) != want {
				t.Fatalf("got %q (%v)\nwant %q", rest, err, want)
			}
		})
	}
}

// What is no GraphQL request at all is refused with graphql-sse's statuses, and one coded
// error.
func TestSSERefusesMalformedRequests(t *testing.T) {
	_, srv := streamServer(t, config.Config{Limits: config.Limits{BodyBytes: 100}})
	tests := []struct {
		name, method, rawQuery, contentType, body string
		status                                    int
		code, message                             string
	}{
		{"a body not JSON", http.MethodPost, "", "text/plain", `{ stores { totalCount } }`,
			415, "UNSUPPORTED_MEDIA_TYPE", "Send GraphQL requests as Content-Type: application/json."},
		{"a body not an object", http.MethodPost, "", "application/json", `[{"query":"{ stores { totalCount } }"}]`,
			400, "BAD_REQUEST", "The request body must be a JSON object with a query."},
		{"a body too large", http.MethodPost, "", "application/json", `{"query":"{ stores { totalCount } }` + strings.Repeat(" ", 100) + `"}`,
			413, "PAYLOAD_TOO_LARGE", "The request body is larger than the limit of 100 bytes."},
		{"a query not a string", http.MethodPost, "", "application/json", `{"query":["{ stores { totalCount } }"]}`,
			400, "BAD_REQUEST", "The query parameter must be a string."},
		{"variables not an object", http.MethodPost, "", "application/json", `{"query":"{ stores { totalCount } }","variables":"{}"}`,
			400, "BAD_REQUEST", "The variables parameter must be a JSON object."},
		{"no query", http.MethodGet, "operationName=Count", "", "",
			400, "BAD_REQUEST", "Missing query: send the GraphQL document as the query parameter."},
		{"variables not JSON", http.MethodGet, "query=" + url.QueryEscape("{ stores { totalCount } }") + "&variables=%7B", "", "",
			400, "BAD_REQUEST", "The variables parameter must be a JSON object."},
		{"a mutation in a GET", http.MethodGet, "query=" + url.QueryEscape(`mutation { logout }`), "", "",
			405, "METHOD_NOT_ALLOWED", "Mutations must be sent with POST."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := requestSSE(t, srv, tt.method, tt.rawQuery, tt.body, "Content-Type", tt.contentType)
			body, _ := io.ReadAll(resp.Body)
			want, _ := json.Marshal(map[string]any{"errors": []map[string]any{{"message": tt.message, "extensions": map[string]string{"code": tt.code}}}})
			if resp.StatusCode != tt.status || string(body) != string(want) {
				t.Fatalf("got %d %s\nwant %d %s", resp.StatusCode, body, tt.status, want)
			}
			if allow := resp.Header.Get("Allow"); tt.status == 405 && allow != "POST" {
				t.Fatalf("Allow: %q, want POST", allow)
			}
		})
	}
}

// Each event of a subscription has its cursor as its SSE id; a client reconnecting with
// Last-Event-ID gets exactly the events after that one (whatever its after argument says),
// then the live ones.
func TestSSESubscriptionEventIDsAreCursorsAndLastEventIDResumesAfterOne(t *testing.T) {
	s, srv := streamServer(t, config.Config{})
	const query = `subscription($after: String) { storeEvents(after: $after) { cursor store { name } } }`
	body, _ := json.Marshal(map[string]string{"query": query})
	first := openSSE(t, postSSE(t, srv, string(body)))
	waitForSubscribers(t, s, 1)
	names := []string{"A", "B", "C"}
	for _, name := range names {
		createStore(t, s, name)
	}
	var cursors []string
	for _, name := range names {
		got := first.nextEvent(t)
		id, data, ok := strings.Cut(strings.TrimPrefix(got, "event: next\nid: "), "\ndata: ")
		var event struct {
			Data struct {
				StoreEvents struct {
					Cursor string
					Store  struct{ Name string }
				}
			}
		}
		if !ok || json.Unmarshal([]byte(data), &event) != nil || event.Data.StoreEvents.Cursor != id || event.Data.StoreEvents.Store.Name != name {
			t.Fatalf("got %q, want the next event of store %s with its cursor as id", got, name)
		}
		cursors = append(cursors, id)
	}

	// Reconnect as an EventSource does, with the last ID it got: the one of A. The after
	// argument, naming C, does not count.
	variables, _ := json.Marshal(map[string]string{"after": cursors[2]})
	resumed := openSSE(t, requestSSE(t, srv, http.MethodGet, "query="+url.QueryEscape(query)+"&variables="+url.QueryEscape(string(variables)), "",
		"Last-Event-ID", cursors[0]))
	for i, name := range []string{"B", "C"} {
		want := "event: next\nid: " + cursors[i+1] + "\ndata: " + `{"data":{"storeEvents":{"cursor":"` + cursors[i+1] + `","store":{"name":"` + name + `"}}}}`
		if got := resumed.nextEvent(t); got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	}
	createStore(t, s, "D")
	if got := resumed.nextEvent(t); !strings.Contains(got, `"store":{"name":"D"}`) {
		t.Fatalf("got %q, want the live event of D", got)
	}
}

// A client that prefers JSON is answered by the HTTP transport, though it lists
// text/event-stream too.
func TestSSEOnlyForClientsThatPreferIt(t *testing.T) {
	tests := []struct {
		accept string
		sse    bool
	}{
		{"text/event-stream", true},
		{"text/event-stream, */*", true},
		{"application/json;q=0.9, text/event-stream", true},
		{"application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed", false}, // urql
		{"application/json, text/event-stream", false},
		{"*/*", false},
		{"text/*", false},
		{"text/event-stream;q=0", false},
		{"", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		r.Header.Set("Accept", tt.accept)
		if got := (&sseTransport{}).Supports(r); got != tt.sse {
			t.Errorf("Accept: %s: SSE %v, want %v", tt.accept, got, tt.sse)
		}
	}
}

// An idle SSE subscription over HTTP/1 holds one goroutine, its connection's reader: the
// handler has returned, and the subscription has a goroutine only while it sends what an
// event makes. The client's leaving ends the subscription and the reader.
func TestIdleSSESubscriptionHoldsOnlyItsReader(t *testing.T) {
	s, srv := streamServer(t, config.Config{})
	waitForSubscribers(t, s, 0)
	before, _ := goroutines()
	holding := func(n int) func() bool {
		return func() bool { g, _ := goroutines(); return g == before+n }
	}
	wait := func(n int, when string) {
		t.Helper()
		if !eventually(waitLimit, holding(n)) {
			g, stacks := goroutines()
			t.Fatalf("%s: %d goroutines more, want %d:\n%s", when, g-before, n, stacks)
		}
	}

	resp := postSSE(t, srv, `{"query":"subscription { storeEvents { store { name } } }"}`)
	if !resp.Close {
		t.Error("the stream's response does not say Connection: close")
	}
	sse := openSSE(t, resp)
	waitForSubscribers(t, s, 1)
	wait(1, "idle")

	createStore(t, s, "Woken")
	_, data, _ := strings.Cut(sse.nextEvent(t), "\ndata: ")
	if want := `{"data":{"storeEvents":{"store":{"name":"Woken"}}}}`; data != want {
		t.Fatalf("got data %q, want %q", data, want)
	}
	wait(1, "once the event is sent")

	resp.Body.Close()
	waitForSubscribers(t, s, 0)
	wait(0, "once the client has left")
}

// Over HTTP/2, whose connections carry other requests, a subscription's stream stays with
// its handler: events arrive, and the client's cancelling the request ends the subscription.
func TestSSESubscriptionOverHTTP2StaysWithItsHandler(t *testing.T) {
	s := testStack(t, "sqlite::memory:", config.Config{})
	srv := httptest.NewUnstartedServer(s)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(s.CloseStreams)

	resp := postSSE(t, srv, `{"query":"subscription { storeEvents { store { name } } }"}`)
	if resp.ProtoMajor != 2 {
		t.Fatalf("the stream came over HTTP/%d, want 2", resp.ProtoMajor)
	}
	sse := openSSE(t, resp)
	waitForSubscribers(t, s, 1)
	createStore(t, s, "Over HTTP/2")
	_, data, _ := strings.Cut(sse.nextEvent(t), "\ndata: ")
	if want := `{"data":{"storeEvents":{"store":{"name":"Over HTTP/2"}}}}`; data != want {
		t.Fatalf("got data %q, want %q", data, want)
	}
	resp.Body.Close()
	waitForSubscribers(t, s, 0)
}
