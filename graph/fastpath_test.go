package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// differential is one database served twice: with the fast path, and by gqlgen alone.
type differential struct {
	fast, reference http.Handler
}

// answer is what a handler said, and what it cost.
type answer struct {
	status     int
	body       string
	statements int64
	fastPath   bool
}

func newDifferential(t *testing.T, url string) *differential {
	t.Helper()
	ctx := context.Background()
	db := newTestDB(t, url)
	// Names with what gqlgen escapes that a name may hold (TestStringsAreQuotedAsGqlgenQuotesThem
	// has the control characters names refuse), and prices in every form %g writes.
	names := []string{"Plain", `Quote " and \ backslash`, "Ünïcödé ✓ 😀", "<html> & 'single'", "Empty"}
	prices := []float64{0, 0.01, 1.5, 10, 100, 12345.67, 1234567.8, 99999999.99}
	for i, name := range names {
		s, err := db.CreateStore(ctx, adminActor, name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "Empty" {
			continue
		}
		for j := range 3 + i%3 {
			in := storage.ItemInput{Name: fmt.Sprintf("%s item %d", name, j), Price: prices[(i+j)%len(prices)], StoreID: s.ID}
			if _, err := db.CreateItem(ctx, adminActor, in); err != nil {
				t.Fatal(err)
			}
		}
	}
	return &differential{
		fast:      NewHandler(db, discardLog(), Options{Introspection: true}),
		reference: NewHandler(db, discardLog(), Options{Introspection: true, gqlgenOnly: true}),
	}
}

func ask(h http.Handler, query string, variables map[string]any) answer {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": variables})
	req := postJSON("", string(body))
	var info RequestInfo
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(WithRequestInfo(req.Context(), &info)))
	return answer{status: rec.Code, body: sortedErrors(rec.Body.String()), statements: info.Statements, fastPath: info.FastPath}
}

// sortedErrors puts a response's errors in order: gqlgen reports the errors of a list's
// elements in the order its goroutines meet them.
func sortedErrors(body string) string {
	var resp map[string]json.RawMessage
	if json.Unmarshal([]byte(body), &resp) != nil || resp["errors"] == nil {
		return body
	}
	var errs []json.RawMessage
	if json.Unmarshal(resp["errors"], &errs) != nil {
		return body
	}
	slices.SortFunc(errs, func(a, b json.RawMessage) int { return strings.Compare(string(a), string(b)) })
	resp["errors"], _ = json.Marshal(errs)
	sorted, _ := json.Marshal(resp)
	return string(sorted)
}

// TestFastPathAnswersAsGqlgenDoes is the fast path's proof: over a generated corpus of
// operations (aliases, fragments, inline fragments, @skip and @include, __typename,
// variables, nulls and errors, every field of the schema), on both databases, the fast
// path's answer is gqlgen's, byte for byte, at the same number of statements.
func TestFastPathAnswersAsGqlgenDoes(t *testing.T) {
	corpus := generateCorpus(rand.New(rand.NewPCG(1, 2)), 400)
	exec := executor.New(NewExecutableSchema(Config{Resolvers: &Resolver{}}))
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			d := newDifferential(t, b.New(t))
			fast := 0
			for _, op := range corpus {
				want, compiled := ask(d.reference, op.query, op.variables), compiles(t, exec, op)
				// The second time, the fast path runs the plan it cached the first time.
				for _, time := range []string{"first", "again"} {
					got := ask(d.fast, op.query, op.variables)
					if got.status != want.status || got.body != want.body {
						t.Fatalf("%s\nvariables %v\nfast path (%v, %s): %d %s\ngqlgen: %d %s", op.query, op.variables, got.fastPath, time, got.status, got.body, want.status, want.body)
					}
					// gqlgen's own count varies where its loaders' timer batches lone parents;
					// the fast path compiles no such operation.
					if compiled && got.statements != want.statements {
						t.Fatalf("%s\nvariables %v\nfast path (%v, %s) ran %d statements, gqlgen %d", op.query, op.variables, got.fastPath, time, got.statements, want.statements)
					}
					if got.fastPath && time == "first" {
						fast++
					}
				}
			}
			// The corpus must exercise the fast path, not only gqlgen beside itself.
			if fast < len(corpus)/3 {
				t.Fatalf("the fast path answered %d of %d operations", fast, len(corpus))
			}
			t.Logf("the fast path answered %d of %d operations", fast, len(corpus))
		})
	}
}

// TestFastPathTakesPlainDataAndLeavesTheRestToGqlgen names what the fast path answers.
func TestFastPathTakesPlainDataAndLeavesTheRestToGqlgen(t *testing.T) {
	d := newDifferential(t, "sqlite::memory:")
	for _, tc := range []struct {
		name, query string
		fast        bool
		// gqlgen's statement count depends on when its loaders' timer fires, which the
		// fast path does not change: only the answers are compared.
		timerBatched bool
	}{
		{"the nested page", `{ stores(first: 100) { nodes { name items(first: 20) { nodes { name price } } } } }`, true, false},
		{"a storefront page", `{ stores(first: 20) { nodes { name items(first: 5) { nodes { name price } } } } }`, true, false},
		{"a point read", `{ item(id: "gid://storegraph/Item/1") { name price } }`, true, false},
		{"a missing object", `{ store(id: "gid://storegraph/Store/999") { name } }`, true, false},
		{"edges, page info and counts", `{ items(first: 2) { __typename totalCount edges { cursor node { id store { name } } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`, true, false},
		{"fragments and directives", `query { ...Q } fragment Q on Query { s: store(id: "gid://storegraph/Store/1") { ... on Node { id } name @skip(if: true) createdAt @include(if: true) } }`, true, false},
		{"a lone store's items", `{ store(id: "gid://storegraph/Store/1") { items { nodes { name } } } }`, true, false},
		{"an item's store's items, once", `{ item(id: "gid://storegraph/Item/1") { store { items { totalCount } } } }`, true, false},
		{"the stores of listed items' items: the timer batches them", `{ items { nodes { store { items { nodes { name } } } } } }`, false, true},
		{"two root fields", `{ a: store(id: "gid://storegraph/Store/1") { name } b: store(id: "gid://storegraph/Store/2") { name } }`, false, true},
		{"an owner", `{ stores { nodes { owner { id } } } }`, false, false},
		{"node", `{ node(id: "gid://storegraph/Store/1") { id } }`, false, false},
		{"introspection", `{ __schema { queryType { name } } }`, false, false},
		{"a mutation", `mutation { logout }`, false, false},
		{"an error", `{ stores(first: 1000) { nodes { name } } }`, false, false},
		{"an error below a page", `{ stores { nodes { items(first: -1) { nodes { name } } } } }`, false, false},
		{"a malformed ID", `{ item(id: "7") { name } }`, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := ask(d.fast, tc.query, nil), ask(d.reference, tc.query, nil)
			if got.fastPath != tc.fast {
				t.Errorf("answered by the fast path: %v, want %v (%s)", got.fastPath, tc.fast, got.body)
			}
			if got.body != want.body || (!tc.timerBatched && got.statements != want.statements) {
				t.Errorf("fast path: %s (%d statements)\ngqlgen: %s (%d statements)", got.body, got.statements, want.body, want.statements)
			}
		})
	}
}

func TestStringsAreQuotedAsGqlgenQuotesThem(t *testing.T) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "tab\tnew\nline\rreturn", "\x00\x07\x1f\x7f", "Ünïcödé ✓ 😀", "bad \xff utf-8", "</script>&"} {
		var want bytes.Buffer
		graphql.MarshalString(s).MarshalGQL(&want)
		if got := string(appendQuoted(nil, s)); got != want.String() {
			t.Errorf("appendQuoted(%q) = %s, gqlgen writes %s", s, got, want.String())
		}
	}
}

func TestFloatsAreWrittenAsGqlgenWritesThem(t *testing.T) {
	for _, f := range []float64{0, 0.01, 0.1, 1, 1.5, 10, 100, 123456, 1234567, 12345678.9, 99999999.99, 1e21, 1e-7} {
		var want bytes.Buffer
		if err := graphql.MarshalFloatContext(f).MarshalGQLContext(context.Background(), &want); err != nil {
			t.Fatal(err)
		}
		if got := string(appendFloat(nil, f)); got != want.String() {
			t.Errorf("appendFloat(%v) = %s, gqlgen writes %s", f, got, want.String())
		}
	}
}

// operation is one document of the corpus, with its variables.
type operation struct {
	query     string
	variables map[string]any
}

// compiles says whether the fast path takes op, to answer it or to give it up to gqlgen.
func compiles(t *testing.T, exec *executor.Executor, op operation) bool {
	t.Helper()
	vars := map[string]any{}
	raw, _ := json.Marshal(op.variables)
	if err := json.Unmarshal(raw, &vars); err != nil {
		t.Fatal(err)
	}
	oc, errs := exec.CreateOperationContext(graphql.StartOperationTrace(context.Background()), &graphql.RawParams{Query: op.query, Variables: vars})
	if errs != nil {
		return false
	}
	_, ok := compilePlan(oc)
	return ok
}

// corpusGen writes random operations over the whole schema: mostly what the fast path
// compiles, and around it everything it must leave to gqlgen.
type corpusGen struct {
	r         *rand.Rand
	b         strings.Builder
	aliases   int
	fragments map[string]string // used fragment name -> definition
	variables map[string]any
	varDefs   map[string]string // variable -> type
}

func generateCorpus(r *rand.Rand, n int) []operation {
	ops := make([]operation, n)
	for i := range ops {
		g := &corpusGen{r: r, fragments: map[string]string{}, variables: map[string]any{}, varDefs: map[string]string{}}
		ops[i] = g.operation()
	}
	return ops
}

func (g *corpusGen) chance(p float64) bool { return g.r.Float64() < p }

func (g *corpusGen) pick(options ...string) string { return options[g.r.IntN(len(options))] }

// name writes a field's response key: now and then an alias.
func (g *corpusGen) name(field string) {
	if g.chance(0.2) {
		g.aliases++
		fmt.Fprintf(&g.b, "a%d: ", g.aliases)
	}
	g.b.WriteString(field)
}

// directive writes @skip or @include now and then, by literal or by variable.
func (g *corpusGen) directive() {
	switch g.r.IntN(12) {
	case 0:
		g.b.WriteString(" @skip(if: " + g.pick("true", "false") + ")")
	case 1:
		g.b.WriteString(" @include(if: " + g.pick("true", "false") + ")")
	case 2:
		g.varDefs["skip"] = "Boolean!"
		g.variables["skip"] = g.chance(0.5)
		g.b.WriteString(" @skip(if: $skip)")
	case 3:
		g.varDefs["include"] = "Boolean!"
		g.variables["include"] = g.chance(0.5)
		g.b.WriteString(" @include(if: $include)")
	}
}

func (g *corpusGen) operation() operation {
	roots := 1
	if g.chance(0.08) {
		roots = 2
	}
	var body strings.Builder
	for range roots {
		g.b.Reset()
		g.root()
		body.WriteString(g.b.String() + " ")
	}
	if g.chance(0.2) {
		body.WriteString("__typename ")
	}
	var q strings.Builder
	q.WriteString("query")
	if len(g.varDefs) > 0 {
		names := make([]string, 0, len(g.varDefs))
		for v := range g.varDefs {
			names = append(names, v)
		}
		slices.Sort(names)
		q.WriteString("(")
		for i, v := range names {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("$" + v + ": " + g.varDefs[v])
		}
		q.WriteString(")")
	}
	q.WriteString(" { " + body.String() + "}")
	names := make([]string, 0, len(g.fragments))
	for f := range g.fragments {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		q.WriteString(" " + g.fragments[f])
	}
	return operation{query: q.String(), variables: g.variables}
}

func (g *corpusGen) root() {
	switch g.r.IntN(20) {
	case 0, 1, 2, 3, 4, 5:
		g.name("stores")
		g.pageArgs(false)
		g.connection("Store", 2)
	case 6, 7, 8, 9:
		g.name("items")
		g.pageArgs(true)
		g.connection("Item", 2)
	case 10, 11, 12:
		g.name("store")
		g.b.WriteString(`(id: ` + g.id("Store") + `)`)
		g.object("Store", 2)
	case 13, 14, 15:
		g.name("item")
		g.b.WriteString(`(id: ` + g.id("Item") + `)`)
		g.object("Item", 2)
	case 16:
		g.name("node")
		g.b.WriteString(`(id: ` + g.id("Store") + `) { id ... on Store { name } }`)
	case 17:
		g.name("nodes")
		g.b.WriteString(`(ids: ["gid://storegraph/Item/1", "gid://storegraph/Store/2"]) { __typename ... on Item { price } }`)
	case 18:
		g.b.WriteString("me { id }")
	default:
		g.b.WriteString(`__type(name: "Store") { name }`)
	}
}

// id is a global ID, as a literal or a variable: of a row, of none, of the wrong type, or
// malformed.
func (g *corpusGen) id(typeName string) string {
	id := g.pick(
		"gid://storegraph/"+typeName+"/1", "gid://storegraph/"+typeName+"/3", "gid://storegraph/"+typeName+"/999",
		"gid://storegraph/"+g.pick("Store", "Item")+"/2", "not an id")
	if g.chance(0.3) {
		g.varDefs["id"] = "ID!"
		g.variables["id"] = id
		return "$id"
	}
	return fmt.Sprintf("%q", id)
}

func (g *corpusGen) pageArgs(items bool) {
	var args []string
	if g.chance(0.6) {
		n := g.pick("0", "1", "2", "3", "20", "100", "101", "-1")
		if g.chance(0.25) {
			g.varDefs["n"] = "Int"
			g.variables["n"] = json.Number(n)
			n = "$n"
		}
		args = append(args, g.pick("first", "last")+": "+n)
	}
	if g.chance(0.1) {
		args = append(args, g.pick("after", "before")+`: "`+g.pick("nope", "")+`"`)
	}
	if g.chance(0.3) {
		fields := "ID NAME CREATED_AT"
		if items {
			fields += " PRICE"
		}
		f := strings.Fields(fields)
		args = append(args, "orderBy: {field: "+f[g.r.IntN(len(f))]+", direction: "+g.pick("ASC", "DESC")+"}")
	}
	if g.chance(0.2) {
		filter := `nameContains: "` + g.pick("item 1", "e", "zzz", `"`) + `"`
		if items && g.chance(0.5) {
			filter = g.pick("minPrice: 1", "maxPrice: 100", `storeId: "gid://storegraph/Store/2"`)
		}
		args = append(args, "filter: {"+filter+"}")
	}
	if len(args) > 0 {
		g.b.WriteString("(" + strings.Join(args, ", ") + ")")
	}
}

// connection writes a connection's selection of nodes (of typeName), edges, page info,
// counts.
func (g *corpusGen) connection(typeName string, depth int) {
	g.b.WriteString(" {")
	n := 0
	for _, f := range []string{"nodes", "edges", "pageInfo", "totalCount", "__typename"} {
		if !g.chance(0.45) && !(f == "nodes" && n == 0) {
			continue
		}
		n++
		g.b.WriteString(" ")
		g.name(f)
		switch f {
		case "nodes":
			g.directive()
			g.object(typeName, depth)
		case "edges":
			g.b.WriteString(" { cursor")
			if g.chance(0.7) {
				g.b.WriteString(" node")
				g.object(typeName, depth)
			}
			g.b.WriteString(" }")
		case "pageInfo":
			g.b.WriteString(" { " + strings.Join(g.subset("hasNextPage", "hasPreviousPage", "startCursor", "endCursor"), " ") + " }")
		}
	}
	g.b.WriteString(" }")
}

// subset is some of options, at least one, in their order.
func (g *corpusGen) subset(options ...string) []string {
	var out []string
	for _, o := range options {
		if g.chance(0.5) {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		out = options[:1]
	}
	return out
}

// object writes a selection on a Store or an Item, nesting the other type until depth runs
// out.
func (g *corpusGen) object(typeName string, depth int) {
	g.b.WriteString(" {")
	plain := []string{"id", "name", "createdAt", "updatedAt", "__typename"}
	if typeName == "Item" {
		plain = append(plain, "price")
	}
	for _, f := range g.subset(plain...) {
		g.b.WriteString(" ")
		g.name(f)
		g.directive()
	}
	switch g.r.IntN(6) {
	case 0:
		g.b.WriteString(" ... on " + typeName + " { name }")
	case 1:
		g.b.WriteString(" ... on Node { id }")
	case 2:
		frag := strings.ToLower(typeName) + "Fields"
		g.fragments[frag] = "fragment " + frag + " on " + typeName + " { id createdAt }"
		g.b.WriteString(" ..." + frag)
		g.directive()
	}
	if depth > 0 {
		switch {
		case typeName == "Store" && g.chance(0.5):
			g.b.WriteString(" ")
			g.name("items")
			g.pageArgs(true)
			g.connection("Item", depth-1)
		case typeName == "Store" && g.chance(0.1):
			g.b.WriteString(" owner { id }")
		case typeName == "Item" && g.chance(0.4):
			g.b.WriteString(" ")
			g.name("store")
			g.object("Store", depth-1)
		}
	}
	g.b.WriteString(" }")
}

// TestPlansAreCompiledOncePerDocument names what the plan cache keeps: one plan per
// document and operation name, whatever the other variables, and nothing for an operation
// whose plan may depend on a Boolean variable. Each answer is gqlgen's.
func TestPlansAreCompiledOncePerDocument(t *testing.T) {
	d := newDifferential(t, "sqlite::memory:")
	exec := executor.New(NewExecutableSchema(Config{Resolvers: &Resolver{}}))
	const (
		byID   = `query($id: ID!) { item(id: $id) { name price } }`
		skip   = `query($id: ID!, $s: Boolean!) { item(id: $id) { name price @skip(if: $s) } }`
		twoOps = `query A { stores(first: 1) { nodes { name } } } query B { items(first: 1) { nodes { name } } }`
	)
	item := func(n int) map[string]any { return map[string]any{"id": fmt.Sprintf("gid://storegraph/Item/%d", n)} }
	for _, tc := range []struct {
		name    string
		asked   []operation
		opNames []string // each operation's name, if any
		kept    int      // entries in the cache after them all
		plans   int      // distinct plans run: how many times one was compiled
	}{
		{"a document asked with other variables runs one plan", []operation{{byID, item(1)}, {byID, item(2)}, {byID, item(999)}}, nil, 1, 1},
		{"a Boolean variable is compiled each time", []operation{{skip, map[string]any{"id": "gid://storegraph/Item/1", "s": true}}, {skip, map[string]any{"id": "gid://storegraph/Item/1", "s": false}}}, nil, 0, 2},
		{"each operation of a document has its own plan", []operation{{twoOps, nil}, {twoOps, nil}, {twoOps, nil}}, []string{"A", "B", "A"}, 2, 2},
		{"a document of one operation has one plan, named or not", []operation{{`query Q { stores(first: 1) { nodes { name } } }`, nil}, {`query Q { stores(first: 1) { nodes { name } } }`, nil}}, []string{"Q", ""}, 1, 1},
		{"an operation that does not compile is kept as such", []operation{{`{ me { email } }`, nil}, {`{ me { email } }`, nil}}, nil, 1, 0},
		{"a mutation is never kept", []operation{{`mutation { logout }`, nil}}, nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := newPlanCache()
			plans := map[*planField]bool{}
			for i, op := range tc.asked {
				name := ""
				if tc.opNames != nil {
					name = tc.opNames[i]
				}
				oc, errs := exec.CreateOperationContext(graphql.StartOperationTrace(context.Background()),
					&graphql.RawParams{Query: op.query, OperationName: name, Variables: op.variables})
				if errs != nil {
					t.Fatal(errs)
				}
				cachedPlan, cachedOK := cache.planFor(context.Background(), oc)
				compiled, compiledOK := compilePlan(oc)
				if cachedOK != compiledOK || cachedOK && !reflect.DeepEqual(cachedPlan, compiled) {
					t.Fatalf("%s: the cached plan (%v, %d fields) is not the one compiled now (%v, %d fields)", op.query, cachedOK, cachedPlan.size(), compiledOK, compiled.size())
				}
				if cachedOK {
					plans[&cachedPlan[0]] = true
				}
				if name == "" {
					if got, want := ask(d.fast, op.query, op.variables), ask(d.reference, op.query, op.variables); got.status != want.status || got.body != want.body {
						t.Fatalf("%s\nfast path: %d %s\ngqlgen: %d %s", op.query, got.status, got.body, want.status, want.body)
					}
				}
			}
			if got := cache.lru.order.Len(); got != tc.kept {
				t.Fatalf("the cache keeps %d entries, want %d", got, tc.kept)
			}
			if len(plans) != tc.plans {
				t.Fatalf("%d distinct plans ran, want %d", len(plans), tc.plans)
			}
		})
	}
}

// TestAPlanFieldFitsItsCharge checks planFieldBytes against what a field of a plan holds
// (its response key is its alias or name, which the document's charge covers).
func TestAPlanFieldFitsItsCharge(t *testing.T) {
	if size := unsafe.Sizeof(planField{}); size > planFieldBytes {
		t.Fatalf("a planField is %d bytes, charged %d", size, planFieldBytes)
	}
}
