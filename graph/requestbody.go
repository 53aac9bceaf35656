package graph

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
)

// quickBodyParams reads the body that clients send, an object of the four parameters with a
// string or null for query and operationName and an object or null for variables and
// extensions, in one pass. bodyParams alone would check the whole body with encoding/json,
// decode it into a map and then decode each parameter again: 7% of a point read's CPU.
// Anything else (another key, a repeated one, a value of another type, a key with an escape,
// a string that is not UTF-8, invalid JSON) is not ok, and bodyParams reads it as before,
// errors included. Where it is ok, the parameters are the ones bodyParams would have read
// (FuzzQuickBodyParamsReadAsBodyParams): every string with an escape and every object is
// decoded by encoding/json, and around them only JSON's own grammar is accepted.
func quickBodyParams(raw []byte) (*graphql.RawParams, bool) {
	s := bodyScanner{b: raw}
	if !s.next('{') {
		return nil, false
	}
	params := &graphql.RawParams{}
	if s.next('}') {
		return params, s.atEnd()
	}
	var seen [4]bool
	for {
		key, escaped, ok := s.str()
		if !ok || escaped || !s.next(':') {
			return nil, false
		}
		k := paramIndex(key[1 : len(key)-1])
		if k < 0 || seen[k] {
			return nil, false
		}
		seen[k] = true
		switch k {
		case 0:
			params.Query, ok = s.stringOrNull()
		case 1:
			params.OperationName, ok = s.stringOrNull()
		case 2:
			params.Variables, ok = s.objectOrNull(paramNames[k])
		case 3:
			params.Extensions, ok = s.objectOrNull(paramNames[k])
		}
		if !ok {
			return nil, false
		}
		if !s.next(',') {
			return params, s.next('}') && s.atEnd()
		}
	}
}

var paramNames = [4]string{"query", "operationName", "variables", "extensions"}

func paramIndex(key []byte) int {
	for i, name := range paramNames {
		if string(key) == name {
			return i
		}
	}
	return -1
}

// bodyScanner walks a request body by JSON's grammar, as far as quickBodyParams needs it.
type bodyScanner struct {
	b []byte
	i int
}

func (s *bodyScanner) skipSpace() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// next consumes c, after any space.
func (s *bodyScanner) next(c byte) bool {
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *bodyScanner) atEnd() bool {
	s.skipSpace()
	return s.i == len(s.b)
}

func (s *bodyScanner) null() bool {
	s.skipSpace()
	if bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += 4
		return true
	}
	return false
}

// str consumes a string token and returns it, quotes included, and whether it holds an
// escape (whose validity is encoding/json's to judge).
func (s *bodyScanner) str() (tok []byte, escaped, ok bool) {
	s.skipSpace()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, false
	}
	start := s.i
	for s.i++; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start:s.i], escaped, true
		case c == '\\':
			escaped = true
			s.i++ // the escaped byte is never the closing quote
		case c < 0x20:
			return nil, false, false
		}
	}
	return nil, false, false
}

func (s *bodyScanner) stringOrNull() (string, bool) {
	if s.null() {
		return "", true
	}
	tok, escaped, ok := s.str()
	if !ok {
		return "", false
	}
	if !escaped {
		return string(tok[1 : len(tok)-1]), utf8.Valid(tok)
	}
	var v string
	return v, json.Unmarshal(tok, &v) == nil
}

// objectOrNull consumes null or an object and decodes it as the parameter name. The object
// is only delimited here, its brackets counted outside strings; jsonObject checks it.
func (s *bodyScanner) objectOrNull(name string) (map[string]any, bool) {
	if s.null() {
		return nil, true
	}
	s.skipSpace()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return nil, false
	}
	start, depth := s.i, 0
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			if _, _, ok := s.str(); !ok {
				return nil, false
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				s.i++
				m, reqErr := jsonObject(name, s.b[start:s.i])
				return m, reqErr == nil
			}
		}
		s.i++
	}
	return nil, false
}
