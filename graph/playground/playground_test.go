package playground

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	htmlType = "text/html; charset=utf-8"
	jsType   = "text/javascript; charset=utf-8"
	cssType  = "text/css; charset=utf-8"
)

// assetPaths are the asset URLs the page must reference, with their files
// under assets/ and their content types.
var assetPaths = []struct {
	urlPath, file, contentType string
}{
	{"/playground/assets/graphiql-4.1.2.min.js", "assets/graphiql-4.1.2.min.js", jsType},
	{"/playground/assets/graphiql-4.1.2.min.css", "assets/graphiql-4.1.2.min.css", cssType},
	{"/playground/assets/react-18.2.0.production.min.js", "assets/react-18.2.0.production.min.js", jsType},
	{"/playground/assets/react-dom-18.2.0.production.min.js", "assets/react-dom-18.2.0.production.min.js", jsType},
}

func do(t *testing.T, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func readBody(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandler(t *testing.T) {
	h := New("/graphql")

	type want struct {
		status       int
		contentType  string
		cacheControl string
		allow        string
		bodyFile     string // if set, the body must equal this file's bytes
		emptyBody    bool
	}
	type testCase struct {
		name, method, path string
		want               want
	}
	tests := []testCase{
		{"page GET", http.MethodGet, "/", want{status: 200, contentType: htmlType, cacheControl: "no-cache"}},
		{"page HEAD", http.MethodHead, "/", want{status: 200, contentType: htmlType, cacheControl: "no-cache", emptyBody: true}},
		{"page with query string", http.MethodGet, "/?query=x", want{status: 200, contentType: htmlType, cacheControl: "no-cache"}},
		{"page POST", http.MethodPost, "/", want{status: 405, contentType: "text/plain; charset=utf-8", allow: "GET, HEAD"}},
		{"page PUT", http.MethodPut, "/", want{status: 405, contentType: "text/plain; charset=utf-8", allow: "GET, HEAD"}},
		{"page DELETE", http.MethodDelete, "/", want{status: 405, contentType: "text/plain; charset=utf-8", allow: "GET, HEAD"}},
		{"asset POST", http.MethodPost, assetPaths[0].urlPath, want{status: 405, contentType: "text/plain; charset=utf-8", allow: "GET, HEAD"}},
		{"asset HEAD", http.MethodHead, assetPaths[0].urlPath, want{status: 200, contentType: jsType, cacheControl: immutable, emptyBody: true}},
		{"unknown path", http.MethodGet, "/nope", want{status: 404, contentType: "text/plain; charset=utf-8"}},
		{"unknown path POST", http.MethodPost, "/nope", want{status: 404, contentType: "text/plain; charset=utf-8"}},
		{"index.html", http.MethodGet, "/index.html", want{status: 404, contentType: "text/plain; charset=utf-8"}},
		{"favicon", http.MethodGet, "/favicon.ico", want{status: 404, contentType: "text/plain; charset=utf-8"}},
		{"graphql endpoint", http.MethodGet, "/graphql", want{status: 404, contentType: "text/plain; charset=utf-8"}},
		{"asset dir", http.MethodGet, "/playground/assets/", want{status: 404, contentType: "text/plain; charset=utf-8"}},
		{"asset dir no slash", http.MethodGet, "/playground/assets", want{status: 404, contentType: "text/plain; charset=utf-8"}},
		{"unknown asset", http.MethodGet, "/playground/assets/graphiql-0.0.0.min.js", want{status: 404, contentType: "text/plain; charset=utf-8"}},
		{"license not served", http.MethodGet, "/playground/assets/LICENSE-react", want{status: 404, contentType: "text/plain; charset=utf-8"}},
		{"asset trailing slash", http.MethodGet, assetPaths[0].urlPath + "/", want{status: 404, contentType: "text/plain; charset=utf-8"}},
		{"asset without prefix", http.MethodGet, "/graphiql-4.1.2.min.js", want{status: 404, contentType: "text/plain; charset=utf-8"}},
		{"asset path traversal", http.MethodGet, "/playground/assets/..%2Fplayground.go", want{status: 404, contentType: "text/plain; charset=utf-8"}},
	}
	for _, a := range assetPaths {
		tests = append(tests, testCase{"asset " + a.file, http.MethodGet, a.urlPath, want{status: 200, contentType: a.contentType, cacheControl: immutable, bodyFile: a.file}})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, h, tt.method, tt.path, nil)
			body := readBody(t, resp)
			if resp.StatusCode != tt.want.status {
				t.Fatalf("status = %d, want %d (body %q)", resp.StatusCode, tt.want.status, body)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.want.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.want.contentType)
			}
			if got := resp.Header.Get("Cache-Control"); got != tt.want.cacheControl {
				t.Errorf("Cache-Control = %q, want %q", got, tt.want.cacheControl)
			}
			if got := resp.Header.Get("Allow"); got != tt.want.allow {
				t.Errorf("Allow = %q, want %q", got, tt.want.allow)
			}
			if tt.want.status == 200 {
				if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
				}
				if resp.Header.Get("ETag") == "" {
					t.Error("no ETag")
				}
			}
			if tt.want.emptyBody && len(body) != 0 {
				t.Errorf("body has %d bytes, want none", len(body))
			}
			if !tt.want.emptyBody && len(body) == 0 {
				t.Error("empty body")
			}
			if tt.want.bodyFile != "" {
				wantBody, err := os.ReadFile(tt.want.bodyFile)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(body, wantBody) {
					t.Errorf("body (%d bytes) differs from %s (%d bytes)", len(body), tt.want.bodyFile, len(wantBody))
				}
				if got, want := resp.Header.Get("Content-Length"), strconv.Itoa(len(wantBody)); got != want {
					t.Errorf("Content-Length = %q, want %q", got, want)
				}
			}
		})
	}
}

func TestPage(t *testing.T) {
	h := New("/graphql")
	page := string(readBody(t, do(t, h, http.MethodGet, "/", nil)))

	// Nothing on the page may point at another origin.
	if m := regexp.MustCompile(`(?i)https?://\S*`).FindAllString(page, -1); len(m) != 0 {
		t.Errorf("page contains absolute URLs: %q", m)
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*"//`).FindAllString(page, -1); len(m) != 0 {
		t.Errorf("page contains protocol-relative URLs: %q", m)
	}

	// The page references exactly the assets (plus the data: favicon), and
	// each of them is served.
	var refs []string
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		refs = append(refs, m[1])
	}
	var want []string
	for _, a := range assetPaths {
		want = append(want, a.urlPath)
	}
	want = append(want, "data:,")
	slices.Sort(refs)
	slices.Sort(want)
	if !slices.Equal(refs, want) {
		t.Errorf("page references %q, want %q", refs, want)
	}
	for _, ref := range refs {
		if ref == "data:," {
			continue
		}
		if resp := do(t, h, http.MethodGet, ref, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s (referenced by the page) = %d, want 200", ref, resp.StatusCode)
		}
	}

	for _, s := range []string{
		"<title>storegraph</title>",
		// html/template writes the endpoint and the query as JS string literals.
		`new URL("/graphql", window.location.href)`,
		`defaultQuery: "# Welcome to storegraph.\n# Press the run button (or Ctrl-Enter).\nquery Stores {\n  stores(first: 5) {\n    totalCount\n    nodes {\n      id\n      name\n      items(first: 3) {\n        nodes { id name price }\n      }\n    }\n  }\n}\n"`,
		"GraphiQL.createFetcher(",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("page does not contain %q", s)
		}
	}
}

func TestEndpointIsEscaped(t *testing.T) {
	page := string(readBody(t, do(t, New(`/x"</script><script>alert(1)</script>`), http.MethodGet, "/", nil)))
	if strings.Contains(page, "alert(1)</script>") {
		t.Errorf("endpoint not escaped:\n%s", page)
	}
	if want := `new URL("/x\"\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e", window.location.href)`; !strings.Contains(page, want) {
		t.Errorf("page does not contain %q", want)
	}
}

// The embedded files are exactly the ones the page uses: nothing stale is left
// behind after refresh-assets.sh ran for a new version.
func TestEmbeddedFiles(t *testing.T) {
	var got, want []string
	err := fs.WalkDir(assetFS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got = append(got, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range assetPaths {
		want = append(want, a.file)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("embedded %q, want %q", got, want)
	}
}

func TestConditionalRequest(t *testing.T) {
	h := New("/graphql")
	for _, p := range []string{"/", assetPaths[0].urlPath} {
		first := do(t, h, http.MethodGet, p, nil)
		etag := first.Header.Get("ETag")
		resp := do(t, h, http.MethodGet, p, http.Header{"If-None-Match": {etag}})
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %s = %d, want 304", p, etag, resp.StatusCode)
		}
		if b := readBody(t, resp); len(b) != 0 {
			t.Errorf("304 for %s has a %d-byte body", p, len(b))
		}
	}
}

// Mounted as the server does it, the playground takes "/" without shadowing
// the GraphQL endpoint.
func TestMountedOnMux(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/graphql", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	mux.Handle("/", New("/graphql"))
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/", 200},
		{http.MethodGet, assetPaths[1].urlPath, 200},
		{http.MethodPost, "/graphql", http.StatusTeapot},
		{http.MethodGet, "/other", 404},
	} {
		if resp := do(t, mux, tt.method, tt.path, nil); resp.StatusCode != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
		}
	}
}
