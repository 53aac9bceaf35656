package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"

	"github.com/storegraph/storegraph/graph/model"
	"github.com/storegraph/storegraph/storage"
)

// Limits bound what one GraphQL document may ask of the server, so that an abusive request
// is refused before any resolver runs. Zero leaves a limit off.
type Limits struct {
	// Tokens bounds the lexical tokens of a document; it is checked before parsing.
	Tokens int
	// Depth bounds how deeply the executed operation nests fields (introspection aside).
	Depth int
	// Aliases bounds the aliased fields of a document.
	Aliases int
	// Complexity bounds the operation's cost: one per field, a connection's fields counted
	// once per row its first or last asks for.
	Complexity int
	// PageSize bounds first and last; zero means storage.MaxPageSize.
	PageSize int
}

// DefaultLimits admit every query of the README and one page of 100 stores each with a page
// of 100 items (complexity about 100,000), and refuse a third level of full pages.
var DefaultLimits = Limits{
	Tokens:     5000,
	Depth:      12,
	Aliases:    30,
	Complexity: 200_000,
	PageSize:   storage.MaxPageSize,
}

type limitKind int

const (
	tokenLimit limitKind = iota
	depthLimit
	aliasLimit
)

var limitKinds = [...]struct{ what, code string }{
	tokenLimit: {"tokens", CodeTokenLimitExceeded},
	depthLimit: {"levels of nested fields", CodeDepthLimitExceeded},
	aliasLimit: {"aliases", CodeAliasLimitExceeded},
}

// limitExceeded is the error of a document over one of the limits. Like gqlgen's complexity
// error it carries its code, so the error presenter passes it through as it is.
func limitExceeded(kind limitKind, got, max int) *gqlerror.Error {
	k := limitKinds[kind]
	var err *gqlerror.Error
	if kind == tokenLimit {
		// Counting stops one past the limit, so the total is unknown.
		err = gqlerror.Errorf("The document has more than %d %s.", max, k.what)
	} else {
		err = gqlerror.Errorf("The document has %d %s; the limit is %d.", got, k.what, max)
	}
	errcode.Set(err, k.code)
	return err
}

// use installs the limits on a server; each one checks the document before execution.
func (l Limits) use(srv interface {
	Use(graphql.HandlerExtension)
}) {
	if l.Tokens > 0 {
		srv.Use(tokenLimiter(l.Tokens))
	}
	if l.Depth > 0 || l.Aliases > 0 {
		srv.Use(shapeLimiter{depth: l.Depth, aliases: l.Aliases})
	}
	if l.Complexity > 0 {
		srv.Use(extension.FixedComplexityLimit(l.Complexity))
	}
}

// tokenLimiter counts tokens with gqlparser's lexer before the parser builds a tree, so a
// huge document costs no more than lexing the limit's worth of it.
type tokenLimiter int

func (tokenLimiter) ExtensionName() string                   { return "TokenLimit" }
func (tokenLimiter) Validate(graphql.ExecutableSchema) error { return nil }

func (limit tokenLimiter) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	lex := lexer.New(&ast.Source{Input: p.Query})
	for n := 0; ; n++ {
		tok, err := lex.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return nil // a lexing error is the parser's to report
		}
		if n == int(limit) {
			return limitExceeded(tokenLimit, n+1, int(limit))
		}
	}
}

// shapeLimiter checks the depth of the operation and the aliases of the document once they
// have been parsed and validated (fragments exist and do not cycle).
type shapeLimiter struct{ depth, aliases int }

func (shapeLimiter) ExtensionName() string                   { return "ShapeLimit" }
func (shapeLimiter) Validate(graphql.ExecutableSchema) error { return nil }

func (l shapeLimiter) MutateOperationContext(_ context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if d := depth(op.Operation.SelectionSet); l.depth > 0 && d > l.depth {
		return limitExceeded(depthLimit, d, l.depth)
	}
	if n := aliases(op.Doc); l.aliases > 0 && n > l.aliases {
		return limitExceeded(aliasLimit, n, l.aliases)
	}
	return nil
}

// depth is the deepest nesting of fields in set, through fragments. Introspection fields do
// not count: GraphiQL's schema query nests type references deeply, and gqlparser's
// MaxIntrospectionDepth rule already bounds the part of it that is costly.
func depth(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		d := 0
		switch s := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(s.Name, "__") {
				continue
			}
			d = 1 + depth(s.SelectionSet)
		case *ast.InlineFragment:
			d = depth(s.SelectionSet)
		case *ast.FragmentSpread:
			d = depth(s.Definition.SelectionSet)
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// aliases counts the aliased fields written in a document: each alias can ask for a field
// once more, so the count bounds how much one document can repeat itself.
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

// complexity weights each connection by the rows it asks for, so that the cost of a query
// grows with what it fetches: stores(first: 100) { nodes { items(first: 100) { … } } }
// costs about 100 × 100 times an item's fields. Sizes outside 0..pageSize are refused by the
// resolvers with a clearer error than a complexity error, so they count as pageSize.
func complexity(pageSize int) ComplexityRoot {
	page := func(child int, first, last *int) int {
		n := min(storage.DefaultPageSize, pageSize)
		switch {
		case first != nil:
			n = *first
		case last != nil:
			n = *last
		}
		return 1 + min(max(n, 0), pageSize)*child
	}
	var c ComplexityRoot
	c.Query.Stores = func(child int, first *int, _ *string, last *int, _ *string, _ *model.StoreFilter, _ *model.StoreOrder) int {
		return page(child, first, last)
	}
	c.Query.Items = func(child int, first *int, _ *string, last *int, _ *string, _ *model.ItemFilter, _ *model.ItemOrder) int {
		return page(child, first, last)
	}
	c.Store.Items = func(child int, first *int, _ *string, last *int, _ *string, _ *model.ItemFilter, _ *model.ItemOrder) int {
		return page(child, first, last)
	}
	return c
}
