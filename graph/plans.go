package graph

import (
	"context"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// A plan is a query compiled for the fast path (fastpath.go): the operation's fields,
// collected as gqlgen collects them (fragments, inline fragments, @skip and @include), each
// with what to write and, for an object, the plan of its fields. Only the catalogue's plain
// data compiles: one root field (besides __typename) among stores, items, store and item,
// and below it connections, edges, page info, stores and items. Anything else (owners,
// users, node, several root fields, introspection, @defer) is left to gqlgen.
type plan []planField

type planField struct {
	kind planKind
	// key is the response key as gqlgen writes it: quoted, then a colon.
	key []byte
	// typeName is __typename's value.
	typeName string
	// field holds the arguments and selections that resolvers read.
	field graphql.CollectedField
	// fields is the plan of an object-valued field's objects.
	fields plan
}

type planKind uint8

const (
	typenameField planKind = iota
	queryStores
	queryItems
	queryStore
	queryItem
	connectionTotalCount
	connectionNodes
	connectionEdges
	connectionPageInfo
	edgeCursor
	edgeNode
	pageHasNextPage
	pageHasPreviousPage
	pageStartCursor
	pageEndCursor
	storeID
	storeName
	storeCreatedAt
	storeUpdatedAt
	storeItems
	itemID
	itemName
	itemPrice
	itemCreatedAt
	itemUpdatedAt
	itemStore
)

// shape is what the fast path knows of an object type: the fields it can write.
type shape struct {
	name         string
	implementors []string
	fields       map[string]shapeField
}

type shapeField struct {
	kind  planKind
	child *shape // the objects' shape; nil for a leaf
	// into says where the field's objects sit, given where its parent sits.
	into func(place) place
	// batched marks a resolver whose loads of many parents are batched by the loaders'
	// timer unless the parents come from one page. gqlgen resolves the parents of a list
	// concurrently, so that the timer gathers them into one statement; the fast path
	// resolves them one after the other. Such a field compiles only where its parent is from
	// a page or is not in a list, where both run the same statements.
	batched bool
}

// place is where objects sit in the response: below a list, and listed in a page (whose
// rows the loaders load their nested fields for at once).
type place struct{ inList, fromPage bool }

func same(p place) place            { return p }
func inPage(place) place            { return place{inList: true, fromPage: true} }
func loadedFrom(p place) place      { return place{inList: p.inList} }
func leaf(kind planKind) shapeField { return shapeField{kind: kind} }

// The shapes refer to each other, so their fields are filled in once all exist.
var (
	queryShape           = &shape{name: "Query", implementors: queryImplementors}
	storeConnectionShape = &shape{name: "StoreConnection", implementors: storeConnectionImplementors}
	itemConnectionShape  = &shape{name: "ItemConnection", implementors: itemConnectionImplementors}
	storeEdgeShape       = &shape{name: "StoreEdge", implementors: storeEdgeImplementors}
	itemEdgeShape        = &shape{name: "ItemEdge", implementors: itemEdgeImplementors}
	pageInfoShape        = &shape{name: "PageInfo", implementors: pageInfoImplementors}
	storeShape           = &shape{name: "Store", implementors: storeImplementors}
	itemShape            = &shape{name: "Item", implementors: itemImplementors}
)

func init() {
	queryShape.fields = map[string]shapeField{
		"stores": {kind: queryStores, child: storeConnectionShape, into: same},
		"items":  {kind: queryItems, child: itemConnectionShape, into: same},
		"store":  {kind: queryStore, child: storeShape, into: same},
		"item":   {kind: queryItem, child: itemShape, into: same},
	}
	connection := func(node, edge *shape) map[string]shapeField {
		return map[string]shapeField{
			"nodes":      {kind: connectionNodes, child: node, into: inPage},
			"edges":      {kind: connectionEdges, child: edge, into: inPage},
			"pageInfo":   {kind: connectionPageInfo, child: pageInfoShape, into: same},
			"totalCount": leaf(connectionTotalCount),
		}
	}
	storeConnectionShape.fields = connection(storeShape, storeEdgeShape)
	itemConnectionShape.fields = connection(itemShape, itemEdgeShape)
	edge := func(node *shape) map[string]shapeField {
		return map[string]shapeField{
			"cursor": leaf(edgeCursor),
			"node":   {kind: edgeNode, child: node, into: same},
		}
	}
	storeEdgeShape.fields = edge(storeShape)
	itemEdgeShape.fields = edge(itemShape)
	pageInfoShape.fields = map[string]shapeField{
		"hasNextPage":     leaf(pageHasNextPage),
		"hasPreviousPage": leaf(pageHasPreviousPage),
		"startCursor":     leaf(pageStartCursor),
		"endCursor":       leaf(pageEndCursor),
	}
	storeShape.fields = map[string]shapeField{
		"id":        leaf(storeID),
		"name":      leaf(storeName),
		"createdAt": leaf(storeCreatedAt),
		"updatedAt": leaf(storeUpdatedAt),
		"items":     {kind: storeItems, child: itemConnectionShape, into: loadedFrom, batched: true},
	}
	itemShape.fields = map[string]shapeField{
		"id":        leaf(itemID),
		"name":      leaf(itemName),
		"price":     leaf(itemPrice),
		"createdAt": leaf(itemCreatedAt),
		"updatedAt": leaf(itemUpdatedAt),
		"store":     {kind: itemStore, child: storeShape, into: loadedFrom, batched: true},
	}
}

// compilePlan compiles a query operation, with its variables, for the fast path; false
// when any part of it is not for the fast path.
func compilePlan(op *graphql.OperationContext) (plan, bool) {
	if op.Operation == nil || op.Operation.Operation != ast.Query {
		return nil, false
	}
	p, ok := compileSet(op, op.Operation.SelectionSet, queryShape, place{})
	if !ok {
		return nil, false
	}
	roots := 0
	for _, f := range p {
		if f.kind != typenameField {
			roots++
		}
	}
	return p, roots == 1
}

// planCache keeps the plans of the documents clients send again, by query text (and by
// operation name in a document of several), so that a repeated query is not compiled at each
// request; an operation that does not compile is kept too, as a nil plan. A plan holds the
// syntax tree it was compiled from, which stays in memory after the query cache has let that
// document go: each entry is charged for a parsed document as the query cache charges it,
// besides its fields.
type planCache struct{ lru *byteLRU[plan] }

// planFieldBytes bounds what one field of a plan holds: the planField, its response key and
// its slice of the parent's plan.
const planFieldBytes = 256

func newPlanCache() planCache {
	cost := func(key string, p plan) int { return parsedBytesPerByte*len(key) + planFieldBytes*p.size() }
	// No one plan takes more than a quarter of the cache.
	return planCache{lru: newByteLRU(planCacheBytes, planCacheBytes/4, cost)}
}

// planFor is compilePlan, once per document and operation. An operation that declares a
// Boolean variable is compiled each time: @skip, @include and @defer may read it, and then
// its plan depends on the value (validation lets no other type of variable reach them).
func (c planCache) planFor(ctx context.Context, op *graphql.OperationContext) (plan, bool) {
	if op.Operation == nil || op.Operation.Operation != ast.Query {
		return nil, false
	}
	if op.RawQuery == "" || declaresBoolean(op.Operation.VariableDefinitions) {
		return compilePlan(op)
	}
	// In a document of one operation, any name that gets this far is that operation's: the
	// text alone is the key, and no copy of it is made.
	key := op.RawQuery
	if len(op.Doc.Operations) > 1 {
		// A document holds no NUL: the key cannot be another document's text.
		key += "\x00" + op.OperationName
	}
	if p, ok := c.lru.Get(ctx, key); ok {
		return p, p != nil
	}
	p, ok := compilePlan(op)
	if !ok {
		p = nil
	}
	c.lru.Add(ctx, key, p)
	return p, ok
}

func declaresBoolean(vars ast.VariableDefinitionList) bool {
	for _, v := range vars {
		if v.Type.NamedType == "Boolean" {
			return true
		}
	}
	return false
}

// size counts the plan's fields at every level.
func (p plan) size() int {
	n := len(p)
	for i := range p {
		n += p[i].fields.size()
	}
	return n
}

func compileSet(op *graphql.OperationContext, set ast.SelectionSet, s *shape, at place) (plan, bool) {
	fields := graphql.CollectFields(op, set, s.implementors)
	p := make(plan, 0, len(fields))
	for _, f := range fields {
		if len(f.Deferrables) > 0 {
			return nil, false
		}
		pf := planField{key: responseKey(f.Alias), field: f}
		if f.Name == "__typename" {
			pf.kind, pf.typeName = typenameField, s.name
			p = append(p, pf)
			continue
		}
		sf, ok := s.fields[f.Name]
		if !ok || sf.batched && at.inList && !at.fromPage {
			return nil, false
		}
		pf.kind = sf.kind
		if sf.child != nil {
			if pf.fields, ok = compileSet(op, f.Selections, sf.child, sf.into(at)); !ok {
				return nil, false
			}
		}
		p = append(p, pf)
	}
	return p, true
}

func responseKey(alias string) []byte {
	return append(appendQuoted(nil, alias), ':')
}

// appendQuoted appends s as a JSON string exactly as gqlgen writes strings (its
// writeQuotedString): only control characters, quotes and backslashes are escaped.
func appendQuoted(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	b = append(b, '"')
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\t':
			b = append(b, `\t`...)
		case '\r':
			b = append(b, `\r`...)
		case '\n':
			b = append(b, `\n`...)
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		default:
			b = append(b, `\u00`...)
			b = append(b, hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendFloat appends f as gqlgen's Float writes it (fmt's %g, which is strconv's shortest
// 'g').
func appendFloat(b []byte, f float64) []byte {
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
