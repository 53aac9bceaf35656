package graph

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

const textType = "text/plain; charset=utf-8"

// schemaFileSDL is schema.graphqls, parsed and printed as the schema endpoint prints.
func schemaFileSDL(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	schema, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(src)})
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(printSchema(schema)))
}

func schemaRequest(method string) *http.Request {
	return httptest.NewRequest(method, "/schema.graphql", nil)
}

func TestSchemaEndpointServesTheSchemaUnlessIntrospectionIsOff(t *testing.T) {
	sdl := schemaFileSDL(t)
	for _, tt := range []struct {
		introspection bool
		want          exchange
	}{
		{true, exchange{"on", schemaRequest(http.MethodGet), 200, textType, sdl}},
		{true, exchange{"HEAD has no body", schemaRequest(http.MethodHead), 200, textType, ""}},
		{false, exchange{"off", schemaRequest(http.MethodGet), 404, textType, "Introspection is disabled on this server."}},
	} {
		t.Run(tt.want.name, func(t *testing.T) { tt.want.check(t, NewSchemaHandler(tt.introspection)) })
	}
}

func TestSchemaEndpointPrintsWhatToolsExpect(t *testing.T) {
	rec := httptest.NewRecorder()
	NewSchemaHandler(true).ServeHTTP(rec, schemaRequest(http.MethodGet))
	sdl := rec.Body.String()
	for _, tt := range []struct {
		name, text string
		want       bool
	}{
		{"Time names its specification", "\nscalar Time @specifiedBy(url: \"https://www.rfc-editor.org/rfc/rfc3339\")\n", true},
		{"descriptions are included", "\"\"\"\nA shop in the catalogue. Store names are unique regardless of letter case.\n\"\"\"\ntype Store implements Node {", true},
		{"built-in scalars are left out", "scalar String", false},
		{"built-in directives are left out", "directive @", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(sdl, tt.text) != tt.want {
				t.Fatalf("the SDL contains %q: %v, want %v\n%s", tt.text, !tt.want, tt.want, sdl)
			}
		})
	}
}

func TestSchemaEndpointRevalidatesByETag(t *testing.T) {
	h := NewSchemaHandler(true)
	first := httptest.NewRecorder()
	h.ServeHTTP(first, schemaRequest(http.MethodGet))
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	r := schemaRequest(http.MethodGet)
	r.Header.Set("If-None-Match", etag)
	again := httptest.NewRecorder()
	h.ServeHTTP(again, r)
	if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Fatalf("revalidation: %d with %d bytes, want 304 and none", again.Code, again.Body.Len())
	}
}
