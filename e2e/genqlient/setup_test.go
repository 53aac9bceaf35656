package genqlient

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Khan/genqlient/graphql"
)

// serverURL is the base URL of the storegraph server under test, from STOREGRAPH_URL.
func serverURL(t *testing.T) string {
	t.Helper()
	u := strings.TrimRight(os.Getenv("STOREGRAPH_URL"), "/")
	if u == "" {
		t.Fatal("STOREGRAPH_URL is not set: run `go test ./e2e -run TestGenqlientClient` in the " +
			"repository root, which starts the server on Postgres and SQLite and runs these tests, " +
			"or set it to a running server's base URL (http://127.0.0.1:8080)")
	}
	return u
}

// serverToken is an access token of the user the tests write as, from STOREGRAPH_TOKEN: the
// server wants one for every change to the catalogue.
func serverToken(t *testing.T) string {
	t.Helper()
	token := os.Getenv("STOREGRAPH_TOKEN")
	if token == "" {
		t.Fatal("STOREGRAPH_TOKEN is not set: run `go test ./e2e -run TestGenqlientClient` in the " +
			"repository root, which signs in and passes the token, or set it to the accessToken " +
			"of a login mutation on the server of STOREGRAPH_URL")
	}
	return token
}

// bearer sends every request with `Authorization: Bearer <token>`, as a client does once its
// user has signed in.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context()) // a RoundTripper must not change the caller's request
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(req)
}

// recorder is the HTTP client under genqlient's client: it keeps the body of every request,
// so that a test can check what genqlient actually sent.
type recorder struct {
	http *http.Client

	mu     sync.Mutex
	bodies [][]byte
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	return r.http.Do(req)
}

// lastVariables decodes the variables of the last request sent.
func (r *recorder) lastVariables(t *testing.T) map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bodies) == 0 {
		t.Fatal("no request was sent")
	}
	var req struct {
		Variables map[string]any `json:"variables"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.bodies[len(r.bodies)-1]))
	dec.UseNumber() // so that 18.5 and 0 are compared as they were written
	if err := dec.Decode(&req); err != nil {
		t.Fatalf("the request body is not JSON: %v\n%s", err, r.bodies[len(r.bodies)-1])
	}
	return req.Variables
}

// newClient is a genqlient client of the server under test, signed in, with the recorder it
// sends through.
func newClient(t *testing.T) (graphql.Client, *recorder) {
	t.Helper()
	signedIn := bearer{token: serverToken(t), base: http.DefaultTransport}
	rec := &recorder{http: &http.Client{Timeout: 30 * time.Second, Transport: signedIn}}
	return graphql.NewClient(serverURL(t)+"/graphql", rec), rec
}
