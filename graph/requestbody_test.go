package graph

import (
	"reflect"
	"testing"
)

// requestBodies are what the quick reading takes and leaves: what GraphiQL, Apollo Client,
// urql, Relay and the bench send is read in one pass; the rest is decoded in full.
var requestBodies = []struct {
	name, body string
	quick      bool
}{
	{"a query with variables", `{"query":"query($id: ID!) { item(id: $id) { name price } }","variables":{"id":"gid://storegraph/Item/7"}}`, true},
	{"Apollo's body: every parameter, newlines escaped, a persisted query", `{"operationName":"Q","variables":{},"query":"query Q {\n  stores(first: 2) {\n    nodes { name }\n  }\n}\n","extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`, true},
	{"spaces everywhere, nulls", ` { "query" : "{ store(id: \"1\") { name } }" , "operationName" : null , "variables" : null , "extensions" : null } `, true},
	{"UTF-8 in the document", `{"query":"{ s: stores(first: 1) { nodes { name } } } # ünïcödé ✓ 😀"}`, true},
	{"a persisted query by hash alone", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"}}}`, true},
	{"variables of every JSON type, brackets and quotes in strings", `{"query":"mutation($in: ItemInput!) { createItem(input: $in) { id } }","variables":{"in":{"name":"a \"b\" [c] {d}","price":9.99,"storeId":"gid://storegraph/Store/1","tags":[1,2.5e3,true,null]}}}`, true},
	{"an empty object", `{}`, true},
	{"a null query", `{"query":null}`, true},
	{"a repeated key", `{"query":"{ a }","query":"{ b }"}`, false},
	{"a key in another case", `{"Query":"{ a }"}`, false},
	{"another key", `{"query":"{ a }","other":1}`, false},
	{"a number for the query", `{"query":1}`, false},
	{"an array for the variables", `{"query":"{ a }","variables":[]}`, false},
	{"a string for the variables", `{"query":"{ a }","variables":"x"}`, false},
	{"trailing data", `{"query":"{ a }","variables":{"a":1}}x`, false},
	{"a trailing comma", `{"query":"{ a }",}`, false},
	{"a missing comma", `{"query":"{ a }" "variables":{}}`, false},
	{"escapes and a lone surrogate", `{"query":"\u0041\ud83d\ude00\ud800"}`, true},
	{"a key with an escape", `{"qu\u0065ry":"{ a }"}`, false},
	{"bytes that are not UTF-8", "{\"query\":\"\xff\xfe\"}", false},
	{"a raw tab in a string", "{\"query\":\"a\tb\"}", false},
	{"invalid variables", `{"query":"{ a }","variables":{"a":]}`, false},
	{"a brace inside a string in the variables", `{"query":"{ a }","variables":{"a":"}"}}`, true},
	{"an escaped quote inside a string in the variables", `{"query":"{ a }","variables":{"a":"\"}"}}`, true},
	{"null followed by more", `{"query":"{ a }","variables":nullx}`, false},
	{"an unterminated string", `{"query":"\"}`, false},
	{"a string cut at its escape", `{"query":"\`, false},
	{"an unterminated object", `{`, false},
	{"plain variables of every kind", `{"query":"{ a }","variables":{"first":20,"after":null,"on":true,"off":false,"price":-9.99e-1,"id":"gid://storegraph/Item/7"}}`, true},
	{"a repeated variable", `{"query":"{ a }","variables":{"a":1,"a":"two"}}`, true},
	{"a number with a leading zero in the variables", `{"query":"{ a }","variables":{"a":01}}`, false},
	{"a number cut after its point in the variables", `{"query":"{ a }","variables":{"a":1.}}`, false},
}

// FuzzQuickBodyParamsReadAsBodyParams proves the quick reading of request bodies: whatever it
// accepts, the full decoding accepts too, with the same parameters.
func FuzzQuickBodyParamsReadAsBodyParams(f *testing.F) {
	for _, b := range requestBodies {
		f.Add([]byte(b.body))
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

// TestQuickBodyParamsTakeWhatClientsSend names the bodies read in one pass (requestBodies).
func TestQuickBodyParamsTakeWhatClientsSend(t *testing.T) {
	for _, tc := range requestBodies {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(tc.body)
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

// TestFlatObjectsReadAsEncodingJSONReadsThem: an object of plain values is read in one pass
// into what jsonObject makes of it; any other is left for jsonObject, from where it began.
func TestFlatObjectsReadAsEncodingJSONReadsThem(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		flat      bool
	}{
		{"an ID", `{"id":"gid://storegraph/Item/7"}`, true},
		{"an empty object", `{}`, true},
		{"spaces, null and booleans", ` { "first" : 20 , "after" : null , "on" : true , "off" : false } `, true},
		{"numbers of every form", `{"a":0,"b":-0,"c":1.5,"d":-2e10,"e":3E+2,"f":4e-1,"g":12345678901234567890,"h":10.25}`, true},
		{"a repeated key: the last wins", `{"a":1,"a":"two"}`, true},
		{"UTF-8", `{"ünï":"cödé ✓ 😀"}`, true},
		{"an escape in a value", `{"a":"x\"y"}`, false},
		{"an escape in a key", `{"a\u0062":1}`, false},
		{"an object in it", `{"a":{"b":1}}`, false},
		{"an array in it", `{"a":[1]}`, false},
		{"a leading zero", `{"a":01}`, false},
		{"nothing after the point", `{"a":1.}`, false},
		{"a lone minus", `{"a":-}`, false},
		{"nothing after the exponent", `{"a":1e}`, false},
		{"a leading point", `{"a":.5}`, false},
		{"a plus sign", `{"a":+1}`, false},
		{"a cut literal", `{"a":nul}`, false},
		{"a literal run on", `{"a":truex}`, false},
		{"a trailing comma", `{"a":1,}`, false},
		{"no colon", `{"a" 1}`, false},
		{"bytes that are not UTF-8", "{\"a\":\"\xff\"}", false},
		{"unterminated", `{"a":1`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := bodyScanner{b: []byte(tc.raw)}
			m, ok := s.flatObject()
			if ok != tc.flat {
				t.Fatalf("%s: read flat %v, want %v", tc.raw, ok, tc.flat)
			}
			if !ok {
				if s.i != 0 {
					t.Errorf("%s: left at %d, want 0", tc.raw, s.i)
				}
				return
			}
			want, reqErr := jsonObject("variables", []byte(tc.raw))
			if reqErr != nil || !reflect.DeepEqual(m, want) {
				t.Errorf("%s: read flat as %#v, by encoding/json as %#v (%v)", tc.raw, m, want, reqErr)
			}
		})
	}
}

// BenchmarkBodyParams reads the point scenario's body and Apollo's in one pass and in full.
func BenchmarkBodyParams(b *testing.B) {
	for _, body := range []struct{ name, raw string }{{"point", requestBodies[0].body}, {"apollo", requestBodies[1].body}} {
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
