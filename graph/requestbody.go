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
	return s.optional(c)
}

func (s *bodyScanner) atEnd() bool {
	s.skipSpace()
	return s.i == len(s.b)
}

func (s *bodyScanner) null() bool {
	s.skipSpace()
	return s.literal("null")
}

// literal consumes word if it comes next.
func (s *bodyScanner) literal(word string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		s.i += len(word)
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
	if m, ok := s.flatObject(); ok {
		return m, true
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

// flatObject reads an object whose values are all plain: strings without an escape, numbers,
// booleans and null, as most variables are (an ID, a page size). It makes the map that
// encoding/json would (numbers as json.Number, the last of a repeated key), without its
// check-then-decode passes and its reflection: a point read's variables cost 4% of its CPU
// through encoding/json. Anything else is not ok, and s is left where it was, for
// objectOrNull to decode.
func (s *bodyScanner) flatObject() (map[string]any, bool) {
	start := s.i
	m, ok := s.readFlatObject()
	if !ok {
		s.i = start
	}
	return m, ok
}

func (s *bodyScanner) readFlatObject() (map[string]any, bool) {
	if !s.next('{') {
		return nil, false
	}
	m := map[string]any{}
	if s.next('}') {
		return m, true
	}
	for {
		key, ok := s.plainString()
		if !ok || !s.next(':') {
			return nil, false
		}
		v, ok := s.plainValue()
		if !ok {
			return nil, false
		}
		m[key] = v
		if !s.next(',') {
			return m, s.next('}')
		}
	}
}

// plainString consumes a string without an escape, of UTF-8 (encoding/json replaces what
// is not), and returns its text.
func (s *bodyScanner) plainString() (string, bool) {
	tok, escaped, ok := s.str()
	if !ok || escaped || !utf8.Valid(tok) {
		return "", false
	}
	return string(tok[1 : len(tok)-1]), true
}

// plainValue consumes a plain value (see flatObject) and returns what encoding/json would
// decode it as.
func (s *bodyScanner) plainValue() (any, bool) {
	s.skipSpace()
	if s.i >= len(s.b) {
		return nil, false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.plainString()
	case c == 'n':
		return nil, s.literal("null")
	case c == 't':
		return true, s.literal("true")
	case c == 'f':
		return false, s.literal("false")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return nil, false
}

// number consumes a number by JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *bodyScanner) number() (json.Number, bool) {
	start := s.i
	s.optional('-')
	if !s.optional('0') && s.digits() == 0 {
		return "", false
	}
	if s.optional('.') && s.digits() == 0 {
		return "", false
	}
	if s.optional('e') || s.optional('E') {
		if !s.optional('+') {
			s.optional('-')
		}
		if s.digits() == 0 {
			return "", false
		}
	}
	return json.Number(s.b[start:s.i]), true
}

// optional consumes c if it comes next, with no space before it.
func (s *bodyScanner) optional(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// digits consumes the digits that come next and returns how many.
func (s *bodyScanner) digits() int {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}
