package graph

import (
	"reflect"
	"testing"
)

var requestBodies = []string{
	`{"query":"query($id: ID!) { item(id: $id) { name price } }","variables":{"id":"gid://storegraph/Item/7"}}`,
	`{"operationName":"Q","variables":{},"query":"query Q {\n  stores(first: 2) {\n    nodes { name }\n  }\n}\n","extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`,
	` { "query" : "{ store(id: \"1\") { name } }" , "operationName" : null , "variables" : null , "extensions" : null } `,
	`{"query":"{ s: stores(first: 1) { nodes { name } } } # ünïcödé ✓ 😀"}`,
	`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"}}}`,
	`{"query":"mutation($in: ItemInput!) { createItem(input: $in) { id } }","variables":{"in":{"name":"a \"b\" [c] {d}","price":9.99,"storeId":"gid://storegraph/Store/1","tags":[1,2.5e3,true,null]}}}`,
	`{}`,
	`{"query":null}`,
	`{"query":"{ a }","query":"{ b }"}`,
	`{"Query":"{ a }"}`,
	`{"query":"{ a }","other":1}`,
	`{"query":1}`,
	`{"query":"{ a }","variables":[]}`,
	`{"query":"{ a }","variables":"x"}`,
	`{"query":"{ a }","variables":{"a":1}}x`,
	`{"query":"{ a }",}`,
	`{"query":"{ a }" "variables":{}}`,
	`{"query":"\u0041\ud83d\ude00\ud800"}`,
	`{"qu\u0065ry":"{ a }"}`,
	"{\"query\":\"\xff\xfe\"}",
	"{\"query\":\"a\tb\"}",
	`{"query":"{ a }","variables":{"a":]}`,
	`{"query":"{ a }","variables":{"a":"}"}}`,
	`{"query":"{ a }","variables":{"a":"\"}"}}`,
	`{"query":"{ a }","variables":nullx}`,
	`{"query":"\"}`,
	`{"query":"\`,
	`{`,
}

// FuzzQuickBodyParamsReadAsBodyParams proves the quick reading of request bodies: whatever it
// accepts, the full decoding accepts too, with the same parameters.
func FuzzQuickBodyParamsReadAsBodyParams(f *testing.F) {
	for _, b := range requestBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		quick, ok := quickBodyParams(raw)
		if !ok {
			return
		}
		full, err := decodeBodyParams(raw)
		if err != nil {
			t.Fatalf("%q: read quickly as %+v, refused in full: %s", raw, quick, err.message)
		}
		if !reflect.DeepEqual(quick, full) {
			t.Fatalf("%q: read quickly as %+v, in full as %+v", raw, quick, full)
		}
	})
}

// TestQuickBodyParamsTakeWhatClientsSend names the bodies read in one pass: what GraphiQL,
// Apollo Client, urql, Relay and the bench send. The rest is decoded in full.
func TestQuickBodyParamsTakeWhatClientsSend(t *testing.T) {
	for i, tc := range []struct {
		name  string
		quick bool
	}{
		{"a query with variables", true},
		{"Apollo's body: every parameter, newlines escaped, a persisted query", true},
		{"spaces everywhere, nulls", true},
		{"UTF-8 in the document", true},
		{"a persisted query by hash alone", true},
		{"variables of every JSON type, brackets and quotes in strings", true},
		{"an empty object", true},
		{"a null query", true},
		{"a repeated key", false},
		{"a key in another case", false},
		{"another key", false},
		{"a number for the query", false},
		{"an array for the variables", false},
		{"a string for the variables", false},
		{"trailing data", false},
		{"a trailing comma", false},
		{"a missing comma", false},
		{"escapes and a lone surrogate", true},
		{"a key with an escape", false},
		{"bytes that are not UTF-8", false},
		{"a raw tab in a string", false},
		{"invalid variables", false},
		{"a brace inside a string in the variables", true},
		{"an escaped quote inside a string in the variables", true},
		{"null followed by more", false},
		{"an unterminated string", false},
		{"a string cut at its escape", false},
		{"an unterminated object", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(requestBodies[i])
			quick, ok := quickBodyParams(raw)
			if ok != tc.quick {
				t.Fatalf("%s: read in one pass %v, want %v", raw, ok, tc.quick)
			}
			if !ok {
				return
			}
			full, err := decodeBodyParams(raw)
			if err != nil || !reflect.DeepEqual(quick, full) {
				t.Fatalf("%s: read quickly as %+v, in full as %+v (%v)", raw, quick, full, err)
			}
		})
	}
}

// BenchmarkBodyParams reads the point scenario's body and Apollo's in one pass and in full.
func BenchmarkBodyParams(b *testing.B) {
	for _, body := range []struct{ name, raw string }{{"point", requestBodies[0]}, {"apollo", requestBodies[1]}} {
		for _, read := range []struct {
			name string
			read func([]byte) bool
		}{
			{"quick", func(raw []byte) bool { _, ok := quickBodyParams(raw); return ok }},
			{"full", func(raw []byte) bool { _, err := decodeBodyParams(raw); return err == nil }},
		} {
			b.Run(body.name+"/"+read.name, func(b *testing.B) {
				b.ReportAllocs()
				raw := []byte(body.raw)
				for b.Loop() {
					if !read.read(raw) {
						b.Fatal("not read")
					}
				}
			})
		}
	}
}
