package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/storage/storagetest"
)

// badCase is one malformed or hostile request and exactly how it must be answered.
type badCase struct {
	name        string
	method      string // default POST
	contentType string // default application/json; "-" sends none
	body        string // POST body
	query       string // URL query string (GET)
	wantStatus  int
	wantCodes   []string // extensions.code of every error, in order; nil: no errors
	wantField   string   // extensions.field of the first error, when it names one
}

// badBody is a JSON request body for query and variables (nil: none).
func badBody(query string, variables any) string {
	m := map[string]any{"query": query}
	if variables != nil {
		m["variables"] = variables
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// badCursor forges a cursor: base64url of arbitrary JSON.
func badCursor(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }

var (
	parseFailed      = []string{"GRAPHQL_PARSE_FAILED"}
	validationFailed = []string{"GRAPHQL_VALIDATION_FAILED"}
	badInput         = []string{"BAD_USER_INPUT"}
	badRequest       = []string{"BAD_REQUEST"}
)

// badCases are refused (or harmlessly answered) without changing any stored row. storeID
// and itemID exist.
func badCases(storeID, itemID string) []badCase {
	mutation := func(input string) string {
		return badBody(`mutation { createItem(input: {`+input+`}) { id } }`, nil)
	}
	cases := []badCase{
		// The body and the HTTP request itself.
		{name: "invalid JSON", body: `{"query":`, wantStatus: 400, wantCodes: badRequest},
		{name: "empty body", body: ``, wantStatus: 400, wantCodes: badRequest},
		{name: "JSON array (batch) body", body: `[` + badBody("{ __typename }", nil) + `]`, wantStatus: 400, wantCodes: badRequest},
		{name: "query that is not a string", body: `{"query": 5}`, wantStatus: 400, wantCodes: badRequest},
		{name: "no query", body: `{}`, wantStatus: 400, wantCodes: badRequest},
		{name: "variables as an array", body: `{"query":"{ __typename }","variables":[1,2]}`, wantStatus: 400, wantCodes: badRequest},
		{name: "variables as a string", body: `{"query":"{ __typename }","variables":"x"}`, wantStatus: 400, wantCodes: badRequest},
		{name: "unknown top-level key is ignored", body: `{"query":"{ __typename }","colour":"red"}`, wantStatus: 200},
		{name: "text/plain", contentType: "text/plain", body: badBody("{ __typename }", nil), wantStatus: 415, wantCodes: []string{"UNSUPPORTED_MEDIA_TYPE"}},
		{name: "no content type", contentType: "-", body: badBody("{ __typename }", nil), wantStatus: 415, wantCodes: []string{"UNSUPPORTED_MEDIA_TYPE"}},
		{name: "application/graphql", contentType: "application/graphql", body: "{ __typename }", wantStatus: 415, wantCodes: []string{"UNSUPPORTED_MEDIA_TYPE"}},
		{name: "form encoded", contentType: "application/x-www-form-urlencoded", body: "query=%7B__typename%7D", wantStatus: 415, wantCodes: []string{"UNSUPPORTED_MEDIA_TYPE"}},
		{name: "multipart", contentType: "multipart/form-data; boundary=x", body: "--x--", wantStatus: 415, wantCodes: []string{"UNSUPPORTED_MEDIA_TYPE"}},
		{name: "malformed content type parameter", contentType: "application/json; charset", body: badBody("{ __typename }", nil), wantStatus: 415, wantCodes: []string{"UNSUPPORTED_MEDIA_TYPE"}},
		{name: "PUT", method: http.MethodPut, body: badBody("{ __typename }", nil), wantStatus: 405, wantCodes: []string{"METHOD_NOT_ALLOWED"}},
		{name: "DELETE", method: http.MethodDelete, wantStatus: 405, wantCodes: []string{"METHOD_NOT_ALLOWED"}},
		{name: "GET of a mutation", method: http.MethodGet, query: url.Values{"query": {`mutation { deleteStore(id: "` + storeID + `") }`}}.Encode(), wantStatus: 405, wantCodes: []string{"METHOD_NOT_ALLOWED"}},
		{name: "GET with a malformed query string", method: http.MethodGet, query: "query=%7B&x=%zz", wantStatus: 400, wantCodes: badRequest},
		{name: "GET with variables as an array", method: http.MethodGet, query: url.Values{"query": {"{ __typename }"}, "variables": {"[1]"}}.Encode(), wantStatus: 400, wantCodes: badRequest},

		// The document.
		{name: "syntax error", body: badBody("{ stores {", nil), wantStatus: 200, wantCodes: parseFailed},
		{name: "unknown field", body: badBody("{ stores { nodes { colour } } }", nil), wantStatus: 200, wantCodes: validationFailed},
		{name: "unknown argument", body: badBody("{ stores(colour: RED) { totalCount } }", nil), wantStatus: 200, wantCodes: validationFailed},
		{name: "unknown input field", body: badBody(`mutation { createStore(input: {name: "X", colour: "red"}) { id } }`, nil), wantStatus: 200, wantCodes: validationFailed},
		{name: "unknown operation name", body: `{"query":"query A { __typename }","operationName":"B"}`, wantStatus: 200, wantCodes: validationFailed},

		// Variables of the wrong type.
		{name: "object for an ID", body: badBody("query($id: ID!) { store(id: $id) { id } }", map[string]any{"id": map[string]any{"a": 1}}), wantStatus: 200, wantCodes: validationFailed},
		{name: "string for a Float", body: badBody("query($p: Float) { items(filter: {maxPrice: $p}) { totalCount } }", map[string]any{"p": "cheap"}), wantStatus: 200, wantCodes: validationFailed},
		{name: "fraction for an Int", body: badBody("query($n: Int) { stores(first: $n) { totalCount } }", map[string]any{"n": 1.5}), wantStatus: 200, wantCodes: validationFailed},
		{name: "missing required variable", body: badBody("query($id: ID!) { store(id: $id) { id } }", map[string]any{}), wantStatus: 200, wantCodes: validationFailed},
		{name: "null for a required variable", body: badBody("query($id: ID!) { store(id: $id) { id } }", map[string]any{"id": nil}), wantStatus: 200, wantCodes: validationFailed},

		// Prices.
		{name: "NaN price", body: mutation(`name: "X", price: NaN, storeId: "` + storeID + `"`), wantStatus: 200, wantCodes: validationFailed},
		{name: "infinite price literal", body: mutation(`name: "X", price: 1e309, storeId: "` + storeID + `"`), wantStatus: 200, wantCodes: []string{"GRAPHQL_VALIDATION_FAILED", "GRAPHQL_VALIDATION_FAILED"}},
		{name: "infinite price variable", body: `{"query":"mutation($p: Float!) { createItem(input: {name: \"X\", price: $p, storeId: \"` + storeID + `\"}) { id } }","variables":{"p":1e309}}`, wantStatus: 200, wantCodes: validationFailed},
		// gqlgen reads the strings "NaN" and "Infinity" as floats; storage refuses them.
		{name: "NaN as a string variable", body: badBody(`mutation($p: Float!) { createItem(input: {name: "X", price: $p, storeId: "`+storeID+`"}) { id } }`, map[string]any{"p": "NaN"}), wantStatus: 200, wantCodes: badInput, wantField: "price"},
		{name: "Infinity as a string variable", body: badBody(`mutation($p: Float) { updateItem(id: "`+itemID+`", input: {price: $p}) { id } }`, map[string]any{"p": "-Infinity"}), wantStatus: 200, wantCodes: badInput, wantField: "price"},
		{name: "huge price", body: mutation(`name: "X", price: 1e12, storeId: "` + storeID + `"`), wantStatus: 200, wantCodes: badInput, wantField: "price"},
		{name: "negative price", body: mutation(`name: "X", price: -0.01, storeId: "` + storeID + `"`), wantStatus: 200, wantCodes: badInput, wantField: "price"},
		{name: "price with three decimals", body: mutation(`name: "X", price: 1.005, storeId: "` + storeID + `"`), wantStatus: 200, wantCodes: badInput, wantField: "price"},
		{name: "huge price in an update", body: badBody(`mutation { updateItem(id: "`+itemID+`", input: {price: 1e300}) { id } }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "price"},

		// Names and ids.
		{name: "name with NUL", body: mutation(`name: "a\u0000b", price: 1, storeId: "` + storeID + `"`), wantStatus: 200, wantCodes: badInput, wantField: "name"},
		{name: "name with a line break", body: badBody(`mutation { updateStore(id: "`+storeID+`", input: {name: "two\nlines"}) { id } }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "name"},
		{name: "name of 81 characters", body: mutation(`name: "` + strings.Repeat("n", 81) + `", price: 1, storeId: "` + storeID + `"`), wantStatus: 200, wantCodes: badInput, wantField: "name"},
		{name: "blank name", body: badBody(`mutation { createStore(input: {name: "  "}) { id } }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "name"},
		{name: "null name in an update", body: badBody(`mutation { updateItem(id: "`+itemID+`", input: {name: null}) { id } }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "name"},
		{name: "name taken in another case", body: badBody(`mutation { createStore(input: {name: "SEED"}) { id } }`, nil), wantStatus: 200, wantCodes: []string{"CONFLICT"}},
		{name: "item in a missing store", body: mutation(`name: "X", price: 1, storeId: "` + globalID(storeType, 999999) + `"`), wantStatus: 200, wantCodes: []string{"NOT_FOUND"}, wantField: "storeId"},
		{name: "id that is not a global ID", body: badBody(`mutation { deleteItem(id: "abc") }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "id"},
		{name: "integer id of before issue 8", body: badBody(`mutation { deleteItem(id: "1") }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "id"},
		{name: "id with a row that is not a number", body: badBody(`mutation { deleteItem(id: "gid://storegraph/Item/abc") }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "id"},
		{name: "id of another type", body: badBody(`mutation { deleteStore(id: "`+itemID+`") }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "id"},
		{name: "an item's ID as storeId", body: mutation(`name: "X", price: 1, storeId: "` + itemID + `"`), wantStatus: 200, wantCodes: badInput, wantField: "storeId"},
		{name: "id with SQL", body: badBody(`mutation { deleteStore(id: "1 OR 1=1") }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "id"},
		{name: "global ID with SQL", body: badBody(`mutation { deleteStore(id: "`+storeID+` OR 1=1") }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "id"},
		{name: "id beyond int64 is no row", body: badBody(`{ store(id: "gid://storegraph/Store/99999999999999999999") { id } }`, nil), wantStatus: 200},
		{name: "store beyond int64 is not found", body: mutation(`name: "X", price: 1, storeId: "gid://storegraph/Store/99999999999999999999"`), wantStatus: 200, wantCodes: []string{"NOT_FOUND"}, wantField: "storeId"},
		{name: "id zero", body: badBody(`mutation { updateStore(id: "gid://storegraph/Store/0", input: {name: "Zero"}) { id } }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "id"},
		{name: "negative id", body: badBody(`mutation { updateStore(id: "gid://storegraph/Store/-1", input: {name: "Negative"}) { id } }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "id"},
		{name: "SQL in a search is searched for", body: badBody(`{ stores(filter: {nameContains: "'; DROP TABLE stores; --"}) { totalCount } }`, nil), wantStatus: 200},
		{name: "control character in a search", body: badBody(`{ items(filter: {nameContains: "a\u0000"}) { totalCount } }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "nameContains"},

		// Page sizes.
		{name: "negative first", body: badBody("{ stores(first: -1) { totalCount } }", nil), wantStatus: 200, wantCodes: badInput, wantField: "first"},
		{name: "first above 100", body: badBody("{ items(first: 101) { totalCount } }", nil), wantStatus: 200, wantCodes: badInput, wantField: "first"},
		{name: "negative last", body: badBody("{ items(last: -5) { totalCount } }", nil), wantStatus: 200, wantCodes: badInput, wantField: "last"},
		{name: "first of 2^31", body: badBody("{ stores(first: 2147483648) { totalCount } }", nil), wantStatus: 200, wantCodes: badInput, wantField: "first"},
		{name: "first beyond int64", body: badBody("{ stores(first: 99999999999999999999) { totalCount } }", nil), wantStatus: 200, wantCodes: validationFailed},
		{name: "first of 1e10 as a variable", body: `{"query":"query($n: Int) { stores(first: $n) { totalCount } }","variables":{"n":1e10}}`, wantStatus: 200, wantCodes: validationFailed},

		// Cursors.
		{name: "cursor that is not base64", body: badBody(`{ items(after: "garbage!") { totalCount } }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "after"},
		{name: "cursor of other JSON", body: badBody(`{ items(before: "`+badCursor(`{"x":1}`)+`") { totalCount } }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "before"},
		{name: "cursor of another order", body: badBody(`{ items(orderBy: {field: PRICE}, after: "`+badCursor(`{"f":"ID","i":1}`)+`") { totalCount } }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "after"},
		{name: "cursor with a negative id", body: badBody(`{ stores(after: "`+badCursor(`{"f":"ID","i":-1}`)+`") { totalCount } }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "after"},
		{name: "cursor with SQL for its id", body: badBody(`{ stores(after: "`+badCursor(`{"f":"ID","i":"1; DROP TABLE stores"}`)+`") { totalCount } }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "after"},
		{name: "cursor with NUL in its value", body: badBody(`{ stores(orderBy: {field: NAME}, after: "`+badCursor(`{"f":"NAME","v":"a\u0000","i":1}`)+`") { totalCount } }`, nil), wantStatus: 200, wantCodes: badInput, wantField: "after"},
		{name: "cursor with SQL in its value is compared, not run", body: badBody(`{ stores(orderBy: {field: NAME}, after: "`+badCursor(`{"f":"NAME","v":"'; DROP TABLE items; --","i":1}`)+`") { totalCount } }`, nil), wantStatus: 200},
	}

	// Abusive documents are refused by the request limits before they are parsed in full or
	// executed.
	deep := `{ stores { nodes { ` + strings.Repeat(`items { nodes { store { `, 300) + `id` + strings.Repeat(` } } }`, 300) + ` } } }`
	tooDeep := `{ stores { nodes { ` + strings.Repeat(`items { nodes { store { `, 900) + `id` + strings.Repeat(` } } }`, 900) + ` } } }`
	// The aliases name the item by a variable: 1,000 of its global ID would be over
	// MAX_QUERY_BYTES, refused for its size before its tokens are counted.
	var aliases strings.Builder
	aliases.WriteString("query($id: ID!) {")
	for i := range 1000 {
		fmt.Fprintf(&aliases, ` a%d: item(id: $id) { id }`, i)
	}
	aliases.WriteString(" }")
	cases = append(cases,
		badCase{name: "body of 2 MiB", body: badBody("{ __typename }", map[string]any{"pad": strings.Repeat("x", 2<<20)}), wantStatus: 413, wantCodes: []string{"PAYLOAD_TOO_LARGE"}},
		badCase{name: "300 levels of nesting", body: badBody(deep, nil), wantStatus: 200, wantCodes: []string{"DEPTH_LIMIT_EXCEEDED"}},
		badCase{name: "900 levels of nesting", body: badBody(tooDeep, nil), wantStatus: 200, wantCodes: []string{"TOKEN_LIMIT_EXCEEDED"}},
		badCase{name: "1,000 aliases", body: badBody(aliases.String(), map[string]any{"id": itemID}), wantStatus: 200, wantCodes: []string{"TOKEN_LIMIT_EXCEEDED"}},
		badCase{name: "a document of 100 KB", body: badBody("{ __typename }"+strings.Repeat(" ", 100<<10), nil), wantStatus: 200, wantCodes: []string{"SIZE_LIMIT_EXCEEDED"}},
	)
	return cases
}

// badSnapshot is every stored row as the API shows it.
func TestBadInputIsRefusedWithItsCodeAndChangesNothing(t *testing.T) {
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			s := startServerWith(t, b.Name, b.New(t), serverOptions{noExitCheck: true})
			seed := createStore(t, s, "Seed")
			item := createItem(t, s, seed.ID, "Thing", 1.5)
			before := snapshot(t, s)

			for _, tc := range badCases(seed.ID, item.ID) {
				t.Run(tc.name, func(t *testing.T) {
					method, contentType := tc.method, tc.contentType
					if method == "" {
						method = http.MethodPost
					}
					switch contentType {
					case "":
						contentType = "application/json"
					case "-":
						contentType = ""
					}
					r, err := s.Request(context.Background(), method, contentType, []byte(tc.body), tc.query)
					if err != nil {
						t.Fatal(err)
					}
					field := ""
					if len(r.Errors) > 0 {
						field, _ = r.Errors[0].Extensions["field"].(string)
					}
					if r.Status != tc.wantStatus || !slices.Equal(r.Codes(), tc.wantCodes) || field != tc.wantField {
						t.Fatalf("got %d %v field %q, want %d %v field %q\n%.500s",
							r.Status, r.Codes(), field, tc.wantStatus, tc.wantCodes, tc.wantField, r.Raw)
					}
					if status, err := s.Get("/healthz"); err != nil || status != http.StatusOK {
						t.Fatalf("/healthz after the request: %d %v", status, err)
					}
				})
			}

			if after := snapshot(t, s); !reflect.DeepEqual(before, after) {
				t.Fatalf("stored rows changed:\nbefore %v\nafter  %v", before, after)
			}
			testNamesAreStoredLiterally(t, s, seed.ID)
			if s.Exited() {
				t.Fatalf("the server exited: %v\n%s", s.waitErr, s.Stderr())
			}
		})
	}
}

// testNamesAreStoredLiterally checks that hostile and unusual names are data: stored, read
// back and searched for exactly as sent.
func testNamesAreStoredLiterally(t *testing.T, s *server, storeID string) {
	names := []string{
		`Robert'); DROP TABLE stores;--`,
		`" OR ""="`,
		`%_\`,
		"👩‍👩‍👧 family",
		"\u202Eevil\u202C",
		"Cafe\u0301",
		"𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
		"日本語の店",
		"<script>alert(1)</script>",
		strings.Repeat("é", 80),
	}
	for _, name := range names {
		t.Run("stores literally "+name, func(t *testing.T) {
			var created struct {
				CreateStore struct{ ID, Name string }
				CreateItem  struct{ ID, Name string }
			}
			s.OK(t, &created, `mutation($n: String!, $s: ID!) {
				createStore(input: {name: $n}) { id name }
				createItem(input: {name: $n, price: 0.01, storeId: $s}) { id name }
			}`, map[string]any{"n": name, "s": storeID})
			if created.CreateStore.Name != name || created.CreateItem.Name != name {
				t.Fatalf("created %q / %q, want %q", created.CreateStore.Name, created.CreateItem.Name, name)
			}
			var found struct {
				Store struct{ Name string }
				Items struct{ Nodes []struct{ ID, Name string } }
			}
			s.OK(t, &found, `query($id: ID!, $n: String!, $s: ID!) {
				store(id: $id) { name }
				items(filter: {nameContains: $n, storeId: $s}) { nodes { id name } }
			}`, map[string]any{"id": created.CreateStore.ID, "n": name, "s": storeID})
			if found.Store.Name != name || len(found.Items.Nodes) != 1 || found.Items.Nodes[0].ID != created.CreateItem.ID || found.Items.Nodes[0].Name != name {
				t.Fatalf("read back %+v, want store and one item named %q", found, name)
			}
		})
	}
	if got := getStore(t, s, storeID); got == nil || got.Name != "Seed" {
		t.Fatal("the seed store is gone")
	}
}
