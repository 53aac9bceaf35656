package graph

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
)

// NewSchemaHandler serves the schema as SDL (GET /schema.graphql) for tools that want a file
// or a URL rather than an introspection query: relay-compiler refuses a .graphqls file, and
// code generators take a URL. It is what introspection returns, so it is off when
// introspection is (404), or GRAPHQL_INTROSPECTION=false would publish it anyway.
func NewSchemaHandler(introspection bool) http.Handler {
	if !introspection {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, errIntrospectionDisabled.Error(), http.StatusNotFound)
		})
	}
	// The schema cannot change while the process runs: it is printed once, and its ETag lets
	// a tool that polls it revalidate without downloading it again.
	sdl := printSchema(NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema())
	sum := sha256.Sum256(sdl)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(sdl))
	})
}

// printSchema prints schema as SDL, descriptions included. The built-in scalars and
// directives (Int, @skip, …, and gqlgen's @defer) are left out, as printed schemas leave
// them (graphql-js's printSchema does too): every GraphQL tool declares them itself.
func printSchema(schema *ast.Schema) []byte {
	var b bytes.Buffer
	formatter.NewFormatter(&b).FormatSchema(schema)
	return b.Bytes()
}
