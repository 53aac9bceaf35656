package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// vars are GraphQL variables.
type vars = map[string]any

// gqlError is one entry of a response's errors.
type gqlError struct {
	Message    string `json:"message"`
	Path       []any  `json:"path"`
	Extensions struct {
		Code  string `json:"code"`
		Field string `json:"field"`
	} `json:"extensions"`
}

func (e gqlError) String() string {
	return fmt.Sprintf("{code %q, field %q, message %q, path %v}", e.Extensions.Code, e.Extensions.Field, e.Message, e.Path)
}

// response is a decoded GraphQL response.
type response struct {
	Status int             `json:"-"`
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
	Body   string          `json:"-"`
	query  string
}

// leakWords must not appear in any error message a client sees.
var leakWords = []string{"SQL", "sql", "constraint", "pq:", "sqlite"}

// checkErrors enforces what holds for every response of the suite: every error has a code
// and none leaks database details. It reports through t.Errorf, so goroutines may call it.
func checkErrors(t testing.TB, r *response) {
	for _, e := range r.Errors {
		if e.Extensions.Code == "" {
			t.Errorf("error without extensions.code: %v\nrequest: %s", e, r.query)
		}
		for _, w := range leakWords {
			if strings.Contains(e.Message, w) {
				t.Errorf("error message leaks %q: %v\nrequest: %s", w, e, r.query)
			}
		}
	}
}

// Post sends a GraphQL request as a JSON POST. It reports transport failures as an error
// (not through t), so goroutines may call it.
func (s *server) Post(t testing.TB, query string, variables vars) (*response, error) {
	return s.PostOp(t, query, variables, "")
}

// PostOp is Post with an operationName.
func (s *server) PostOp(t testing.TB, query string, variables vars, operationName string) (*response, error) {
	req, err := s.postRequest(query, variables, operationName)
	if err != nil {
		return nil, err
	}
	return s.send(t, req, query)
}

// postRequest is the JSON POST of a GraphQL request, for callers that add headers to it;
// it carries s's token, if any.
func (s *server) postRequest(query string, variables vars, operationName string) (*http.Request, error) {
	body := map[string]any{"query": query}
	if variables != nil {
		body["variables"] = variables
	}
	if operationName != "" {
		body["operationName"] = operationName
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, s.BaseURL+"/graphql", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if s.token != "" { // s.http would add it too; this is for requests sent another way
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	return req, nil
}

// PostRaw sends body as it is to POST /graphql.
func (s *server) PostRaw(t testing.TB, contentType, body string) (*response, error) {
	req, err := http.NewRequest(http.MethodPost, s.BaseURL+"/graphql", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	return s.send(t, req, body)
}

// GetQuery sends a GraphQL request as GET /graphql?query=…&variables=….
func (s *server) GetQuery(t testing.TB, query string, variables vars) *response {
	t.Helper()
	q := url.Values{"query": {query}}
	if variables != nil {
		b, err := json.Marshal(variables)
		if err != nil {
			t.Fatal(err)
		}
		q.Set("variables", string(b))
	}
	req, err := http.NewRequest(http.MethodGet, s.BaseURL+"/graphql?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	r, err := s.send(t, req, query)
	if err != nil {
		t.Fatalf("GET /graphql: %v", err)
	}
	return r
}

func (s *server) send(t testing.TB, req *http.Request, query string) (*response, error) {
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	r := &response{Status: resp.StatusCode, Body: string(raw), query: query}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/graphql-response+json") {
		return r, fmt.Errorf("HTTP %d with Content-Type %q, want JSON: %s", resp.StatusCode, ct, raw)
	}
	if err := json.Unmarshal(raw, r); err != nil {
		return r, fmt.Errorf("HTTP %d: undecodable body %q: %w", resp.StatusCode, raw, err)
	}
	checkErrors(t, r)
	return r, nil
}

// Do is Post that fails t on a transport error.
func (s *server) Do(t testing.TB, query string, variables vars) *response {
	t.Helper()
	r, err := s.Post(t, query, variables)
	if err != nil {
		t.Fatalf("POST /graphql: %v\nrequest: %s", err, query)
	}
	return r
}

// OK is Do that also fails t unless the response has no errors, and decodes data into out.
func (s *server) OK(t testing.TB, out any, query string, variables vars) {
	t.Helper()
	r := s.Do(t, query, variables)
	r.mustOK(t)
	r.decode(t, out)
}

func (r *response) mustOK(t testing.TB) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %v\nrequest: %s\nvariables gave body: %s", r.Errors, r.query, r.Body)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("HTTP status %d, want 200; body: %s", r.Status, r.Body)
	}
}

func (r *response) decode(t testing.TB, out any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, out); err != nil {
		t.Fatalf("decode data %s: %v", r.Data, err)
	}
}

// dataIsNull reports whether the response's data is absent or null.
func (r *response) dataIsNull() bool {
	return len(r.Data) == 0 || string(r.Data) == "null"
}

// wantError fails t unless r carries exactly one error, with the given code and field
// ("" requires no field) and, if message is not "", exactly that message.
func wantError(t testing.TB, r *response, code, field, message string) {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Errorf("got %d errors %v, want one with code %s, field %q\nrequest: %s", len(r.Errors), r.Errors, code, field, r.query)
		return
	}
	e := r.Errors[0]
	if e.Extensions.Code != code || e.Extensions.Field != field || (message != "" && e.Message != message) {
		want := fmt.Sprintf("{code %q, field %q", code, field)
		if message != "" {
			want += fmt.Sprintf(", message %q", message)
		}
		t.Errorf("got error %v, want %s}\nrequest: %s", e, want, r.query)
	}
}

// wantFieldErrors fails t unless r carries one error per field, all with the given code.
func wantFieldErrors(t testing.TB, r *response, code string, fields ...string) {
	t.Helper()
	var got []string
	for _, e := range r.Errors {
		if e.Extensions.Code != code {
			t.Errorf("error %v has code %q, want %q", e, e.Extensions.Code, code)
		}
		got = append(got, e.Extensions.Field)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(fields))
	if !slices.Equal(got, want) {
		t.Errorf("error fields %q, want %q; errors: %v\nrequest: %s", got, want, r.Errors, r.query)
	}
}

// rawResponse is a GraphQL response with the HTTP status it came with, decoded without the
// checks of send: for the requests of the bad-input, fault, load and shutdown tests.
type rawResponse struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []rawError      `json:"errors"`
	Raw    []byte          `json:"-"`
}

type rawError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// Codes lists extensions.code of every error, in order.
func (r *rawResponse) Codes() []string {
	var codes []string
	for _, e := range r.Errors {
		code, _ := e.Extensions["code"].(string)
		codes = append(codes, code)
	}
	return codes
}

// Request sends one HTTP request to /graphql and decodes the GraphQL response. It returns
// an error only when no HTTP answer arrived or the answer is not a GraphQL response.
func (s *server) Request(ctx context.Context, method, contentType string, body []byte, query string) (*rawResponse, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.BaseURL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.URL.RawQuery = query
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := &rawResponse{Status: resp.StatusCode, Raw: raw}
	if err := json.Unmarshal(raw, out); err != nil {
		return out, fmt.Errorf("status %d, body is not a GraphQL response: %.300s", resp.StatusCode, raw)
	}
	return out, nil
}

// GraphQL posts a query with its variables. It does not use t, so goroutines may call it.
func (s *server) GraphQL(ctx context.Context, query string, variables vars) (*rawResponse, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": variables})
	if err != nil {
		return nil, err
	}
	return s.Request(ctx, http.MethodPost, "application/json", body, "")
}

// fetch GETs a path other than /graphql and returns status, headers and body. The status
// is 0 when no answer arrived, and set when only reading the body failed.
func (s *server) fetch(path string) (int, http.Header, string, error) {
	resp, err := s.http.Get(s.BaseURL + path)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, resp.Header, "", fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, resp.Header, string(body), nil
}

// get fetches a path of the server and returns status, headers and body.
func (s *server) get(t testing.TB, path string) (int, http.Header, string) {
	t.Helper()
	status, header, body, err := s.fetch(path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return status, header, body
}

// Get fetches a path other than /graphql and returns its status. It does not use t, so
// goroutines may call it.
func (s *server) Get(path string) (int, error) {
	status, _, _, err := s.fetch(path)
	if status != 0 {
		return status, nil // an answer came; its body does not matter
	}
	return 0, err
}

// The default user, whom startServer signs in as: every server of a database signs in as
// this one user, who owns what the tests create.
const (
	defaultUserEmail    = "owner@e2e.test"
	defaultUserPassword = "e2e-password-1"
)

// signInDefault registers the default user on s's database, or logs in when another server
// (or an earlier run of s) has registered it, and returns the access token. s must be
// anonymous.
func signInDefault(t testing.TB, s *server) string {
	t.Helper()
	credentials := vars{"in": vars{"email": defaultUserEmail, "password": defaultUserPassword}}
	r := s.Do(t, `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`, credentials)
	mutation := "register"
	if len(r.Errors) == 1 && r.Errors[0].Extensions.Code == "CONFLICT" {
		r, mutation = s.Do(t, `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`, credentials), "login"
	}
	r.mustOK(t)
	var d map[string]struct{ AccessToken string }
	r.decode(t, &d)
	token := d[mutation].AccessToken
	if token == "" {
		t.Fatalf("%s as %s answered no access token: %s", mutation, defaultUserEmail, r.Body)
	}
	return token
}

// Selections and helpers shared by the tests.
const (
	storeFields = `id name createdAt updatedAt`
	itemFields  = `id name price createdAt updatedAt store { id name }`
)

// Store is a Store as the tests select it.
type Store struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

// Item is an Item as the tests select it.
type Item struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Price     float64 `json:"price"`
	CreatedAt string  `json:"createdAt"`
	UpdatedAt string  `json:"updatedAt"`
	Store     struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"store"`
}

// PageInfo is a connection's pageInfo.
type PageInfo struct {
	HasNextPage     bool    `json:"hasNextPage"`
	HasPreviousPage bool    `json:"hasPreviousPage"`
	StartCursor     *string `json:"startCursor"`
	EndCursor       *string `json:"endCursor"`
}

// Connection is a StoreConnection or ItemConnection.
type Connection[T any] struct {
	Edges []struct {
		Cursor string `json:"cursor"`
		Node   T      `json:"node"`
	} `json:"edges"`
	Nodes      []T      `json:"nodes"`
	PageInfo   PageInfo `json:"pageInfo"`
	TotalCount int      `json:"totalCount"`
}

// connectionFields selects everything of a connection whose nodes select nodeFields.
func connectionFields(nodeFields string) string {
	return `edges { cursor node { ` + nodeFields + ` } } nodes { ` + nodeFields + ` }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount`
}

func createStore(t testing.TB, s *server, name string) Store {
	t.Helper()
	var d struct{ CreateStore Store }
	s.OK(t, &d, `mutation($in: CreateStoreInput!) { createStore(input: $in) { `+storeFields+` } }`,
		vars{"in": vars{"name": name}})
	return d.CreateStore
}

func createItem(t testing.TB, s *server, storeID, name string, price float64) Item {
	t.Helper()
	var d struct{ CreateItem Item }
	s.OK(t, &d, `mutation($in: CreateItemInput!) { createItem(input: $in) { `+itemFields+` } }`,
		vars{"in": vars{"name": name, "price": price, "storeId": storeID}})
	return d.CreateItem
}

// getStore returns store(id), nil when it is null.
func getStore(t testing.TB, s *server, id string) *Store {
	t.Helper()
	var d struct{ Store *Store }
	s.OK(t, &d, `query($id: ID!) { store(id: $id) { `+storeFields+` } }`, vars{"id": id})
	return d.Store
}

// getItem returns item(id), nil when it is null.
func getItem(t testing.TB, s *server, id string) *Item {
	t.Helper()
	var d struct{ Item *Item }
	s.OK(t, &d, `query($id: ID!) { item(id: $id) { `+itemFields+` } }`, vars{"id": id})
	return d.Item
}

// listItems returns one page of items(...) with the given arguments.
func listItems(t testing.TB, s *server, args vars) Connection[Item] {
	t.Helper()
	var d struct{ Items Connection[Item] }
	s.OK(t, &d, `query($first: Int, $after: String, $last: Int, $before: String, $filter: ItemFilter, $orderBy: ItemOrder) {
		items(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) { `+connectionFields(itemFields)+` } }`, args)
	return d.Items
}

// listStores returns one page of stores(...) with the given arguments.
func listStores(t testing.TB, s *server, args vars) Connection[Store] {
	t.Helper()
	var d struct{ Stores Connection[Store] }
	s.OK(t, &d, `query($first: Int, $after: String, $last: Int, $before: String, $filter: StoreFilter, $orderBy: StoreOrder) {
		stores(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) { `+connectionFields(storeFields)+` } }`, args)
	return d.Stores
}

// itemIDs and storeIDs return the ids of items and stores.
func itemIDs(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func storeIDs(stores []Store) []string {
	out := make([]string, len(stores))
	for i, st := range stores {
		out[i] = st.ID
	}
	return out
}
