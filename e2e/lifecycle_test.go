package e2e

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestServerAnswersHealthReadinessAndPlayground(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		for _, tc := range []struct {
			path       string
			wantStatus int
			wantType   string // Content-Type prefix, "" for any
			wantBody   string // substring, "" for any
		}{
			{path: "/healthz", wantStatus: http.StatusOK},
			{path: "/readyz", wantStatus: http.StatusOK},
			{path: "/", wantStatus: http.StatusOK, wantType: "text/html", wantBody: "GraphiQL"},
		} {
			status, header, body := s.get(t, tc.path)
			if status != tc.wantStatus {
				t.Errorf("GET %s: status %d, want %d; body %q", tc.path, status, tc.wantStatus, body)
			}
			if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, tc.wantType) {
				t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.wantType)
			}
			if !strings.Contains(body, tc.wantBody) {
				t.Errorf("GET %s: body does not contain %q:\n%s", tc.path, tc.wantBody, body)
			}
		}

		// Everything the GraphiQL page loads from the server is served.
		_, _, page := s.get(t, "/")
		refs := regexp.MustCompile(`(?:src|href)="(/[^"]*)"`).FindAllStringSubmatch(page, -1)
		if len(refs) == 0 {
			t.Errorf("the GraphiQL page references no same-origin assets:\n%s", page)
		}
		for _, ref := range refs {
			if status, _, _ := s.get(t, ref[1]); status != http.StatusOK {
				t.Errorf("GET %s (referenced by the GraphiQL page): status %d, want 200", ref[1], status)
			}
		}

		// SIGTERM stops the server with exit status 0 (Stop asserts it).
		s.Stop(t)

		// Logs are JSON lines.
		logs := strings.TrimSpace(s.Stderr())
		if logs == "" {
			t.Errorf("the server logged nothing to stderr")
		}
		for line := range strings.SplitSeq(logs, "\n") {
			var entry map[string]any
			if err := json.Unmarshal([]byte(line), &entry); err != nil {
				t.Errorf("stderr line is not a JSON object: %q", line)
			}
		}
	})
}

func TestGraphQLOverHTTP(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		st := createStore(t, s, "Over HTTP")

		t.Run("GET runs a query", func(t *testing.T) {
			r := s.GetQuery(t, `{ store(id: "`+st.ID+`") { id name } }`, nil)
			r.mustOK(t)
			var d struct{ Store Store }
			r.decode(t, &d)
			if d.Store.ID != st.ID || d.Store.Name != "Over HTTP" {
				t.Errorf("GET store = %+v, want id %s name %q", d.Store, st.ID, "Over HTTP")
			}
		})

		t.Run("GET takes variables", func(t *testing.T) {
			r := s.GetQuery(t, `query($id: ID!) { store(id: $id) { name } }`, vars{"id": st.ID})
			r.mustOK(t)
			var d struct{ Store Store }
			r.decode(t, &d)
			if d.Store.Name != "Over HTTP" {
				t.Errorf("GET store name = %q, want %q", d.Store.Name, "Over HTTP")
			}
		})

		t.Run("GET refuses mutations", func(t *testing.T) {
			r := s.GetQuery(t, `mutation { createStore(input: {name: "Made By GET"}) { id } }`, nil)
			if len(r.Errors) == 0 {
				t.Errorf("GET mutation: no errors; body %s", r.Body)
			}
			if !r.dataIsNull() {
				t.Errorf("GET mutation: data = %s, want null", r.Data)
			}
			if c := listStores(t, s, vars{"filter": vars{"nameContains": "Made By GET"}}); c.TotalCount != 0 {
				t.Errorf("GET mutation created a store: %+v", c.Nodes)
			}
		})

		t.Run("malformed requests are errors with a code", func(t *testing.T) {
			for _, tc := range []struct{ name, body string }{
				{"invalid JSON", `{"query": `},
				{"query syntax error", `{"query": "{ stores { "}`},
				{"unknown field", `{"query": "{ shops { id } }"}`},
				{"missing variable", `{"query": "query($id: ID!) { store(id: $id) { id } }"}`},
				{"variable of the wrong type", `{"query": "query($n: Int) { stores(first: $n) { totalCount } }", "variables": {"n": "ten"}}`},
				{"unknown operationName", `{"query": "query A { __typename }", "operationName": "B"}`},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r, err := s.PostRaw(t, "application/json", tc.body)
					if err != nil {
						t.Fatal(err)
					}
					if len(r.Errors) == 0 {
						t.Errorf("no errors; body %s", r.Body)
					}
					if r.Status == http.StatusOK && !r.dataIsNull() {
						t.Errorf("HTTP 200 with data %s", r.Data)
					}
				})
			}
		})

		t.Run("POST selects the operation by operationName", func(t *testing.T) {
			doc := `query A { store(id: "` + st.ID + `") { id } } query B { store(id: "` + st.ID + `") { name } }`
			r, err := s.PostOp(t, doc, nil, "B")
			if err != nil {
				t.Fatal(err)
			}
			r.mustOK(t)
			if want := `{"store":{"name":"Over HTTP"}}`; string(r.Data) != want {
				t.Errorf("operation B data = %s, want %s", r.Data, want)
			}
		})
	})
}

func TestMigrateSubcommands(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		env := []string{"DATABASE_URL=" + dbURL}
		// status lists the state of each migration, oldest first: "applied pending".
		status := func() string {
			t.Helper()
			out, errOut, code := runBinary(t, env, "migrate", "status")
			if code != 0 {
				t.Fatalf("migrate status: exit %d, stderr:\n%s", code, errOut)
			}
			return migrationStates(t, out)
		}
		run := func(cmd ...string) {
			t.Helper()
			if _, errOut, code := runBinary(t, env, append([]string{"migrate"}, cmd...)...); code != 0 {
				t.Fatalf("migrate %s: exit %d, stderr:\n%s", strings.Join(cmd, " "), code, errOut)
			}
		}

		fresh := status()
		n := len(strings.Fields(fresh))
		allPending := strings.TrimSpace(strings.Repeat("pending ", n))
		allApplied := strings.TrimSpace(strings.Repeat("applied ", n))
		if n < 2 || fresh != allPending {
			t.Fatalf("status of a fresh database: %q, want every migration pending", fresh)
		}

		// The server migrates at start-up.
		s := startServer(t, backend, dbURL)
		st := createStore(t, s, "Survives Migrate Status")
		s.Stop(t)
		if got := status(); got != allApplied {
			t.Errorf("status after a server run: %q, want %q", got, allApplied)
		}

		// Each down reverts the newest applied migration only.
		for i := n - 1; i >= 0; i-- {
			run("down", "--yes") // without a terminal, down asks for --yes (setup_test.go)
			want := strings.TrimSpace(strings.Repeat("applied ", i) + strings.Repeat("pending ", n-i))
			if got := status(); got != want {
				t.Errorf("status after migrate down: %q, want %q", got, want)
			}
		}
		run("up")
		if got := status(); got != allApplied {
			t.Errorf("status after migrate up: %q, want %q", got, allApplied)
		}
		run("up") // nothing left to apply: still fine
		if got := status(); got != allApplied {
			t.Errorf("status after a second migrate up: %q, want %q", got, allApplied)
		}

		// Reverting every migration dropped the data; the schema the server finds is usable.
		s = startServer(t, backend, dbURL)
		if got := getStore(t, s, st.ID); got != nil {
			t.Errorf("store %s survived migrate down: %+v", st.ID, got)
		}
		createStore(t, s, "After Migrate Up")
	})
}

// migrationStates reads `migrate status` output ("VERSION  STATE  NAME" per line) and
// returns the states, oldest first, separated by spaces.
func migrationStates(t testing.TB, out string) string {
	t.Helper()
	var states []string
	for line := range strings.SplitSeq(out, "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 {
			states = append(states, fields[1])
		}
	}
	if len(states) == 0 {
		t.Fatalf("migrate status lists no migrations:\n%s", out)
	}
	return strings.Join(states, " ")
}

func TestUnsupportedDatabaseURLFailsStartUp(t *testing.T) {
	t.Parallel()
	for _, dbURL := range []string{"mysql://x", "mysql://user:secret@db:3306/shop"} {
		t.Run(dbURL, func(t *testing.T) {
			t.Parallel()
			_, stderr, code := runBinary(t, []string{"DATABASE_URL=" + dbURL, "PORT=" + freePort(t)})
			if code == 0 {
				t.Fatalf("exit status 0, want non-zero")
			}
			msg := strings.TrimSuffix(stderr, "\n")
			if msg == "" || strings.Contains(msg, "\n") {
				t.Errorf("stderr is not one line:\n%s", stderr)
			}
			if !strings.Contains(msg, "mysql") || !strings.Contains(msg, "DATABASE_URL") {
				t.Errorf("stderr %q does not name DATABASE_URL and the scheme mysql", msg)
			}
			if strings.Contains(msg, "secret") {
				t.Errorf("stderr %q leaks the password in the URL", msg)
			}
		})
	}
}

func TestIntrospectionCanBeDisabled(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		const introspect = `{ __schema { queryType { name } } }`

		on := startServer(t, backend, dbURL)
		var d struct {
			Schema struct {
				QueryType struct{ Name string } `json:"queryType"`
			} `json:"__schema"`
		}
		on.OK(t, &d, introspect, nil)
		if d.Schema.QueryType.Name != "Query" {
			t.Errorf("introspection: query type %q, want Query", d.Schema.QueryType.Name)
		}
		on.Stop(t)

		off := startServer(t, backend, dbURL, "GRAPHQL_INTROSPECTION=false")
		r := off.Do(t, introspect, nil)
		if len(r.Errors) == 0 || strings.Contains(string(r.Data), "Query") {
			t.Errorf("introspection with GRAPHQL_INTROSPECTION=false answered: %s", r.Body)
		}
		// The SDL is the same schema: it is off too, saying why.
		if status, _, body := off.get(t, "/schema.graphql"); status != 404 || body != "Introspection is disabled on this server.\n" {
			t.Errorf("GET /schema.graphql with GRAPHQL_INTROSPECTION=false: %d %q, want 404 saying introspection is disabled", status, body)
		}
		// Ordinary queries still work.
		var q struct {
			Typename string `json:"__typename"`
		}
		off.OK(t, &q, `{ __typename }`, nil)
		if q.Typename != "Query" {
			t.Errorf("__typename = %q, want Query", q.Typename)
		}
		createStore(t, off, "No Introspection")
	})
}
