// Package playground serves the GraphiQL IDE for the storegraph GraphQL API.
//
// Every file the page needs (GraphiQL, React and ReactDOM, and GraphiQL's CSS
// with its fonts inlined) is embedded in the binary, so the playground works
// without internet access and loads nothing from a CDN. The embedded files live
// in assets/ and are produced by refresh-assets.sh from pinned npm packages.
package playground

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"path"
	"strings"
	"time"
)

// Versions of the npm packages whose browser builds are embedded. They must
// match the versions at the top of refresh-assets.sh (the asset file names
// carry them; the tests fail if the page and the embedded files disagree).
const (
	graphiqlVersion = "4.1.2"
	reactVersion    = "18.2.0" // react and react-dom
)

// assetPrefix is the URL path under which the embedded assets are served.
const assetPrefix = "/playground/assets/"

// Names of the embedded asset files, relative to assets/ and to assetPrefix.
const (
	graphiqlJS  = "graphiql-" + graphiqlVersion + ".min.js"
	graphiqlCSS = "graphiql-" + graphiqlVersion + ".min.css"
	reactJS     = "react-" + reactVersion + ".production.min.js"
	reactDOMJS  = "react-dom-" + reactVersion + ".production.min.js"
)

//go:embed assets/*.js assets/*.css
var assetFS embed.FS

// defaultQuery is shown in the editor until the user has typed their own
// query (GraphiQL keeps that in the browser's localStorage).
const defaultQuery = `# Welcome to storegraph.
# Press the run button (or Ctrl-Enter).
query Stores {
  stores(first: 5) {
    totalCount
    nodes {
      id
      name
      items(first: 3) {
        nodes { id name price }
      }
    }
  }
}
`

// The page references only same-origin URLs: the embedded assets, the
// endpoint (resolved against the page's own URL) and a data: favicon, which
// keeps browsers from requesting /favicon.ico.
var pageTemplate = template.Must(template.New("graphiql").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.CSS}}">
<style>
body { margin: 0; }
#graphiql { height: 100vh; }
.loading { height: 100%; display: flex; align-items: center; justify-content: center; font: 2rem sans-serif; }
</style>
</head>
<body>
<div id="graphiql"><div class="loading">Loading…</div></div>
<script src="{{.ReactJS}}"></script>
<script src="{{.ReactDOMJS}}"></script>
<script src="{{.GraphiQLJS}}"></script>
<script>
  const url = new URL({{.Endpoint}}, window.location.href);
  const subscriptionUrl = new URL(url);
  subscriptionUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const fetcher = GraphiQL.createFetcher({ url: url.href, subscriptionUrl: subscriptionUrl.href });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: {{.DefaultQuery}},
      isHeadersEditorEnabled: true,
      inputValueDeprecation: true,
    }),
  );
</script>
</body>
</html>
`))

type pageData struct {
	Title, Endpoint, DefaultQuery        string
	CSS, ReactJS, ReactDOMJS, GraphiQLJS string
}

// file is one response body the handler serves.
type file struct {
	body         []byte
	contentType  string
	cacheControl string
	etag         string
}

func newFile(body []byte, contentType, cacheControl string) *file {
	sum := sha256.Sum256(body)
	return &file{
		body:         body,
		contentType:  contentType,
		cacheControl: cacheControl,
		etag:         `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`,
	}
}

func (f *file) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", f.cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", f.etag)
	// ServeContent answers HEAD, If-None-Match and Range requests and sets
	// Content-Length; the zero time disables Last-Modified handling.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// immutable is the Cache-Control of the assets: their names carry the
// package version, so a given URL never changes content.
const immutable = "public, max-age=31536000, immutable"

// contentTypes maps the extensions of the embedded files to their media type.
// It is explicit so that it does not depend on the host's MIME tables.
var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

type handler struct {
	page   *file
	assets map[string]*file // keyed by file name
}

// New returns an http.Handler that serves the GraphiQL playground for the
// GraphQL endpoint at the given path (for example "/graphql"; it is resolved
// against the page's own URL, so it normally names a path on the same origin).
//
// All of GraphiQL's JavaScript and CSS is embedded in the binary instead of
// being loaded from a CDN, so the playground also works on machines without
// internet access and its code cannot change under us.
//
// The handler is meant to be mounted at the root of a mux
// (mux.Handle("/", playground.New("/graphql"))). It answers:
//
//   - GET or HEAD "/" with the HTML page (not cached by browsers);
//   - GET or HEAD "/playground/assets/<file>" with an embedded asset, cached
//     as immutable because asset names carry their version;
//   - any other path with 404 Not Found, and a known path requested with a
//     method other than GET or HEAD with 405 Method Not Allowed.
func New(endpoint string) http.Handler {
	h := &handler{assets: make(map[string]*file)}
	for _, name := range []string{graphiqlJS, graphiqlCSS, reactJS, reactDOMJS} {
		body, err := assetFS.ReadFile("assets/" + name)
		if err != nil {
			// Cannot happen in a binary that compiled and passed the tests:
			// the names above must match the embedded files.
			panic("playground: embedded asset missing: " + err.Error())
		}
		h.assets[name] = newFile(body, contentTypes[path.Ext(name)], immutable)
	}

	var page bytes.Buffer
	err := pageTemplate.Execute(&page, pageData{
		Title:        "storegraph",
		Endpoint:     endpoint,
		DefaultQuery: defaultQuery,
		CSS:          assetPrefix + graphiqlCSS,
		ReactJS:      assetPrefix + reactJS,
		ReactDOMJS:   assetPrefix + reactDOMJS,
		GraphiQLJS:   assetPrefix + graphiqlJS,
	})
	if err != nil {
		panic("playground: rendering page: " + err.Error())
	}
	// no-cache: browsers revalidate the page (cheaply, by ETag), so a new
	// binary's page, which names new asset versions, is picked up at once.
	h.page = newFile(page.Bytes(), "text/html; charset=utf-8", "no-cache")
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var f *file
	switch p := r.URL.Path; {
	case p == "/":
		f = h.page
	case strings.HasPrefix(p, assetPrefix):
		f = h.assets[strings.TrimPrefix(p, assetPrefix)]
	}
	if f == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	f.serve(w, r)
}
