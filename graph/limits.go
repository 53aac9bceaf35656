package graph

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/storegraph/storegraph/storage"
)

// Limits bound what one GraphQL document may ask of the server, so that an abusive request
// is refused before any resolver runs. Zero leaves a limit off.
//
// Every check here costs time linear in the document: a fragment is analysed once however
// often it is spread, so a chain of fragments that each spread the previous one twice (whose
// expansion doubles per link) costs what its text costs.
type Limits struct {
	// Bytes bounds the document's length, comments and whitespace included; it is checked
	// first, before the document is read any further.
	Bytes int
	// Tokens bounds the lexical tokens of a document; it is checked before parsing.
	Tokens int
	// Fields bounds the fields of the document once every fragment spread is replaced by its
	// fragment (each operation and each fragment definition expanded on its own), and
	// FieldRepeats the fields that land on one position of the response (the same response
	// name under the same parent). Both are checked before validation, whose
	// overlapping-fields rule compares the fields of each position pairwise, and reports
	// every conflicting pair as an error of its own.
	Fields, FieldRepeats int
	// Depth bounds how deeply the executed operation nests fields (introspection aside).
	Depth int
	// Aliases bounds the aliased fields of a document.
	Aliases int
	// Complexity bounds the operation's cost (see operationCost).
	Complexity int
	// PageSize bounds first and last; zero means storage.MaxPageSize.
	PageSize int
}

// DefaultLimits admit every query of the README, GraphiQL's schema query and one page of 100
// stores each with a page of 100 items (complexity about 100,000), and refuse a third level
// of full pages.
var DefaultLimits = Limits{
	Bytes:        32 << 10,
	Tokens:       5000,
	Fields:       2000,
	FieldRepeats: 20,
	Depth:        12,
	Aliases:      30,
	Complexity:   200_000,
	PageSize:     storage.MaxPageSize,
}

// Codes of the limits on a GraphQL document. The operation is not executed.
const (
	CodeSizeLimitExceeded       = "SIZE_LIMIT_EXCEEDED"
	CodeTokenLimitExceeded      = "TOKEN_LIMIT_EXCEEDED"
	CodeFieldLimitExceeded      = "FIELD_LIMIT_EXCEEDED"
	CodeRepeatLimitExceeded     = "REPEAT_LIMIT_EXCEEDED"
	CodeDepthLimitExceeded      = "DEPTH_LIMIT_EXCEEDED"
	CodeAliasLimitExceeded      = "ALIAS_LIMIT_EXCEEDED"
	CodeComplexityLimitExceeded = "COMPLEXITY_LIMIT_EXCEEDED"
)

// limitExceeded is the error of a document over one of the limits. It carries its code, so
// the error presenter passes it through as it is.
func limitExceeded(code, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, code)
	return err
}

// use installs the limits on a server: the document's before it is parsed and validated,
// the operation's once it is. The cost of every operation is recorded for admission
// control even when the complexity limit is off.
func (l Limits) use(srv interface {
	Use(graphql.HandlerExtension)
}, validated graphql.Cache[*ast.QueryDocument]) {
	srv.Use(documentLimiter{limits: l, validated: validated})
	srv.Use(operationLimiter(l))
}

// documentLimiter checks the text of a document before gqlgen parses and validates it.
type documentLimiter struct {
	limits    Limits
	validated graphql.Cache[*ast.QueryDocument] // documents that passed before: not checked again
}

func (documentLimiter) ExtensionName() string                   { return "DocumentLimits" }
func (documentLimiter) Validate(graphql.ExecutableSchema) error { return nil }

func (d documentLimiter) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if ctx.Err() != nil {
		// The client left, or the time ran out, before the document was read: the transport
		// answers UNAVAILABLE without parsing it.
		return limitExceeded(CodeUnavailable, unavailableMessage)
	}
	l := d.limits
	if l.Bytes > 0 && len(p.Query) > l.Bytes {
		return limitExceeded(CodeSizeLimitExceeded, "The document is larger than %d bytes.", l.Bytes)
	}
	if len(p.OperationName) > len(p.Query) {
		// gqlgen would echo the whole name in its "not found" error: a name longer than the
		// document cannot be in it, and the answer should not grow with the request.
		return limitExceeded(errcode.ValidationFailed, "operation %s… not found", p.OperationName[:min(len(p.OperationName), 100)])
	}
	if _, ok := d.validated.Get(ctx, p.Query); ok {
		return nil
	}
	if l.Tokens > 0 && !withinTokens(p.Query, l.Tokens) {
		return limitExceeded(CodeTokenLimitExceeded, "The document has more than %d tokens.", l.Tokens)
	}
	if l.Fields > 0 || l.FieldRepeats > 0 {
		doc, err := parser.ParseQuery(&ast.Source{Input: p.Query})
		if err != nil {
			return nil // gqlgen's own parse reports it
		}
		return fieldsWithin(doc, l.Fields, l.FieldRepeats)
	}
	return nil
}

// withinTokens counts tokens with gqlparser's lexer, stopping one past limit, so a huge
// document costs no more than lexing the limit's worth of it. A lexing error is the
// parser's to report.
func withinTokens(query string, limit int) bool {
	lex := lexer.New(&ast.Source{Input: query})
	for n := 0; ; n++ {
		tok, err := lex.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return true
		}
		if n == limit {
			return false
		}
	}
}

// fieldsWithin refuses a document whose operations and fragments, with every spread replaced
// by its fragment, hold more than maxFields fields, or in which more than maxRepeats fields
// land on one position of the response (one response name under the same parent, through
// fragments and merged parents). Validation's overlapping-fields rule compares the fields of
// a position pairwise and reports every conflicting pair, so both bound its work; the first
// check is arithmetic over fragments, each counted once, and bounds the second.
func fieldsWithin(doc *ast.QueryDocument, maxFields, maxRepeats int) *gqlerror.Error {
	// Sums stop past the limit: a chain of doubling fragments would overflow them.
	add := func(a, b int) int { return min(a+b, maxFields+1) }
	count := newFold(doc, add)
	count.field = func(f *ast.Field) int { return add(1, count.set(f.SelectionSet)) }
	total := 0
	for _, set := range roots(doc) {
		total = add(total, count.set(set))
	}
	if maxFields > 0 && total > maxFields {
		return limitExceeded(CodeFieldLimitExceeded, "The document has more than %d fields once its fragments are expanded.", maxFields)
	}
	if maxRepeats <= 0 {
		return nil
	}
	for _, set := range roots(doc) {
		m := merge{doc: doc, limit: maxRepeats, spreading: map[string]bool{}}
		if err := m.add(responsePositions{}, set); err != nil {
			return err
		}
	}
	return nil
}

// roots are the selection sets that validation checks on their own.
func roots(doc *ast.QueryDocument) []ast.SelectionSet {
	var sets []ast.SelectionSet
	for _, op := range doc.Operations {
		sets = append(sets, op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		sets = append(sets, f.SelectionSet)
	}
	return sets
}

// responsePositions are the fields merged under one parent, by response name.
type responsePositions map[string]*responsePosition

type responsePosition struct {
	fields   int
	first    *ast.Position
	children responsePositions
}

// merge lays a selection set out as the response will have it, expanding fragments; its
// work is the expanded size, which fieldsWithin has bounded.
type merge struct {
	doc       *ast.QueryDocument
	limit     int
	spreading map[string]bool // fragments being expanded, so that a cycle stops
}

func (m *merge) add(into responsePositions, set ast.SelectionSet) *gqlerror.Error {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			p := into[s.Alias]
			if p == nil {
				p = &responsePosition{first: s.Position, children: responsePositions{}}
				into[s.Alias] = p
			}
			if p.fields++; p.fields > m.limit {
				err := limitExceeded(CodeRepeatLimitExceeded,
					"The field %q is selected more than %d times in one place of the response; select it once.", s.Alias, m.limit)
				err.Locations = []gqlerror.Location{{Line: p.first.Line, Column: p.first.Column}}
				return err
			}
			if err := m.add(p.children, s.SelectionSet); err != nil {
				return err
			}
		case *ast.InlineFragment:
			if err := m.add(into, s.SelectionSet); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			def := m.doc.Fragments.ForName(s.Name)
			if def == nil || m.spreading[s.Name] {
				continue
			}
			m.spreading[s.Name] = true
			err := m.add(into, def.SelectionSet)
			m.spreading[s.Name] = false
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// operationLimiter checks the operation once it has been parsed and validated (fragments
// exist and do not cycle), and records its cost.
type operationLimiter Limits

func (operationLimiter) ExtensionName() string                   { return "OperationLimits" }
func (operationLimiter) Validate(graphql.ExecutableSchema) error { return nil }

func (l operationLimiter) MutateOperationContext(_ context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if l.Depth > 0 {
		if d := depth(op.Doc, op.Operation.SelectionSet); d > l.Depth {
			return limitExceeded(CodeDepthLimitExceeded, "The document has %d levels of nested fields; the limit is %d.", d, l.Depth)
		}
	}
	if n := aliases(op.Doc); l.Aliases > 0 && n > l.Aliases {
		return limitExceeded(CodeAliasLimitExceeded, "The document has %d aliases; the limit is %d.", n, l.Aliases)
	}
	cost, err := operationCost(op, l.PageSize)
	if err != nil {
		return err
	}
	if l.Complexity > 0 && cost > l.Complexity {
		return limitExceeded(CodeComplexityLimitExceeded, "operation has complexity %d, which exceeds the limit of %d", cost, l.Complexity)
	}
	// Admission reads it. A subscription takes no room, and would hold the record for as
	// long as it lives.
	if op.Operation.Operation != ast.Subscription {
		op.Stats.SetExtension(costExtension, cost)
	}
	return nil
}

// depth is the deepest nesting of fields in set, through fragments. Introspection fields do
// not count: GraphiQL's schema query nests type references deeply, and gqlparser's
// MaxIntrospectionDepth rule already bounds the part of it that is costly.
func depth(doc *ast.QueryDocument, set ast.SelectionSet) int {
	deepest := newFold(doc, func(a, b int) int { return max(a, b) })
	deepest.field = func(f *ast.Field) int {
		if strings.HasPrefix(f.Name, "__") {
			return 0
		}
		return 1 + deepest.set(f.SelectionSet)
	}
	return deepest.set(set)
}

// fold computes a value of a selection set from a value of each field in it, through inline
// fragments and fragment spreads; each fragment's value is computed once however often it is
// spread, so a fold costs time linear in the document. A fragment that is unknown, or spread
// within itself, counts as the zero value (before validation, which reports both).
type fold[T any] struct {
	doc       *ast.QueryDocument
	field     func(*ast.Field) T
	combine   func(T, T) T
	fragments map[string]T
}

func newFold[T any](doc *ast.QueryDocument, combine func(T, T) T) *fold[T] {
	return &fold[T]{doc: doc, combine: combine, fragments: map[string]T{}}
}

func (f *fold[T]) set(set ast.SelectionSet) T {
	var total T
	for _, sel := range set {
		var v T
		switch s := sel.(type) {
		case *ast.Field:
			v = f.field(s)
		case *ast.InlineFragment:
			v = f.set(s.SelectionSet)
		case *ast.FragmentSpread:
			var seen bool
			if v, seen = f.fragments[s.Name]; !seen {
				f.fragments[s.Name] = v // a cycle back here finds the zero value
				if def := f.doc.Fragments.ForName(s.Name); def != nil {
					v = f.set(def.SelectionSet)
				}
				f.fragments[s.Name] = v
			}
		}
		total = f.combine(total, v)
	}
	return total
}

// aliases counts the aliased fields written in a document: each alias can ask for a field
// once more, so the count bounds how much one document can repeat itself. Every fragment is
// counted once, where it is defined.
func aliases(doc *ast.QueryDocument) int {
	var count func(ast.SelectionSet) int
	count = func(set ast.SelectionSet) int {
		n := 0
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if s.Alias != s.Name {
					n++
				}
				n += count(s.SelectionSet)
			case *ast.InlineFragment:
				n += count(s.SelectionSet)
			}
		}
		return n
	}
	n := 0
	for _, op := range doc.Operations {
		n += count(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		n += count(f.SelectionSet)
	}
	return n
}

// costExtension is the key under which an operation's cost is kept in its Stats.
const costExtension = "Cost"

// operationCostOf returns the cost recorded by the operation limiter; zero for a request
// that did not get that far.
func operationCostOf(op *graphql.OperationContext) int {
	cost, _ := op.Stats.GetExtension(costExtension).(int)
	return cost
}

// maxCost is where costs stop growing: nested pages multiply, and with the depth limit off a
// few levels would overflow.
const maxCost = 1 << 40

// operationCost weights each field 1 and each connection (a field with first and last
// arguments) by the rows it asks for, and nodes(ids:) by its ids, so that the cost of a query grows with what it
// fetches: stores(first: 100) { nodes { items(first: 100) { … } } } costs about 100 × 100
// times an item's fields. Sizes outside 0..pageSize are refused by the resolvers with a
// clearer error than a complexity error, so they count as pageSize. A field selected twice
// (through two fragments, say) is counted twice: the cost is an upper bound, and each
// fragment is costed once.
//
// Cursors are checked here too, before any work: one far longer than this server writes
// would otherwise be decoded for every parent of a nested connection.
func operationCost(op *graphql.OperationContext, pageSize int) (int, *gqlerror.Error) {
	w := &costWalk{vars: op.Variables, pageSize: pageSize}
	w.fold = newFold(op.Doc, func(a, b int) int { return min(a+b, maxCost) })
	w.fold.field = w.field
	cost := w.set(op.Operation.SelectionSet)
	return cost, w.err
}

type costWalk struct {
	*fold[int]
	vars     map[string]any
	pageSize int
	err      *gqlerror.Error // the first cursor refused
}

func (w *costWalk) field(f *ast.Field) int {
	child := w.set(f.SelectionSet)
	if ids, ok := w.arg(f, "ids").([]any); ok {
		// nodes(ids:) returns an object per id (at most the page size; more is refused).
		return w.rows(min(len(ids), w.pageSize), child)
	}
	if f.Definition == nil || f.Definition.Arguments.ForName("first") == nil || f.Definition.Arguments.ForName("last") == nil {
		return min(1+child, maxCost)
	}
	for _, name := range []string{"after", "before"} {
		if c, ok := w.arg(f, name).(string); ok && len(c) > storage.MaxCursorBytes && w.err == nil {
			w.err = gqlerror.ErrorLocf("", f.Position.Line, f.Position.Column, "Invalid cursor.")
			w.err.Extensions = map[string]any{"code": CodeBadUserInput, "field": name}
		}
	}
	rows := min(storage.DefaultPageSize, w.pageSize)
	if n, ok := intArg(w.arg(f, "first")); ok {
		rows = n
	} else if n, ok := intArg(w.arg(f, "last")); ok {
		rows = n
	}
	return w.rows(min(max(rows, 0), w.pageSize), child)
}

// rows is the cost of a list field of n objects each costing child.
func (w *costWalk) rows(n, child int) int {
	if n > 0 && child > maxCost/n {
		return maxCost
	}
	return min(1+n*child, maxCost)
}

func (w *costWalk) arg(f *ast.Field, name string) any {
	a := f.Arguments.ForName(name)
	if a == nil {
		return nil
	}
	v, err := a.Value.Value(w.vars)
	if err != nil {
		return nil
	}
	return v
}

// intArg reads an Int argument as the parser (a literal) or the variables (JSON) give it.
func intArg(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	case float64:
		return int(n), true
	}
	return 0, false
}
