package graph

import (
	"context"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/storegraph/storegraph/graph/model"
	"github.com/storegraph/storegraph/storage"
)

// fastPath executes the queries that compile to a plan (plans.go) without gqlgen's
// per-field machinery: gqlgen has parsed, validated and limited the document as always,
// and the fast path calls the same resolvers and loaders in the same order of statements,
// then writes the JSON that gqlgen would have written, byte for byte
// (TestFastPathAnswersAsGqlgenDoes). gqlgen builds a field context, a derived context and a
// marshaler for every field of every object, and a goroutine for every element of a list;
// the fast path appends to one buffer.
//
// Errors are gqlgen's to answer: on the first one (a resolver's, an argument's, a null
// where the schema promises a value, a panic) the fast path gives the operation up and
// gqlgen executes it. The root field's result, which the fast path has fetched already, is
// replayed to it (replayed), and nested reads are in the loaders' cache, so that no
// statement runs twice. Except when the request's time is up: gqlgen, started on a context
// that is done already, reports its lists' elements as cancelled without a field's location,
// so the fast path reports the field that ran out of time itself, as gqlgen would have
// had it been executing (timedOut).
type fastPath struct {
	es    *executableSchema
	plans planCache
}

func (fastPath) ExtensionName() string                   { return "FastPath" }
func (fastPath) Validate(graphql.ExecutableSchema) error { return nil }

type planKey struct{}

// InterceptOperation compiles the operation. A compiled one answers once: gqlgen's handler
// would answer a second call by executing the operation, which the fast path has done.
func (f fastPath) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	responses := next(ctx)
	p, ok := f.plans.planFor(ctx, graphql.GetOperationContext(ctx))
	if !ok {
		return responses
	}
	answered := false
	return func(ctx context.Context) *graphql.Response {
		if answered {
			return nil
		}
		answered = true
		return responses(context.WithValue(ctx, planKey{}, p))
	}
}

// InterceptResponse runs the plan, inside the response's loaders.
func (f fastPath) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	p, ok := ctx.Value(planKey{}).(plan)
	if !ok {
		return next(ctx)
	}
	op := graphql.GetOperationContext(ctx)
	e := execution{ctx: ctx, ec: newExecutionContext(op, f.es, nil), loaders: loadersFor(ctx)}
	if !e.run(p) {
		if e.err != nil && ctx.Err() != nil {
			return e.timedOut(p)
		}
		return next(ctx)
	}
	if info := requestInfo(ctx); info != nil {
		info.FastPath = true
	}
	return &graphql.Response{Data: e.out}
}

// execution is one run of a plan.
type execution struct {
	ctx     context.Context
	ec      *executionContext
	loaders *loaders
	out     []byte
	// err is the resolver's error the run gave up on, and failedAt where in the response:
	// the fields (*planField) and list indexes (int) from that field out to the root.
	err      error
	failedAt []any
}

// fail gives the run up on a resolver's error.
func (e *execution) fail(err error) bool {
	e.err = err
	return false
}

// timedOut answers the operation with the error of the field that ran out of time,
// presented as gqlgen presents a resolver's error, and the nulls it propagates to: up to
// the root field when that is nullable (store, item), else to the whole data.
func (e *execution) timedOut(p plan) *graphql.Response {
	var fc *graphql.FieldContext
	for i := len(e.failedAt) - 1; i >= 0; i-- {
		switch at := e.failedAt[i].(type) {
		case *planField:
			fc = &graphql.FieldContext{Parent: fc, Field: at.field}
		case int:
			fc = &graphql.FieldContext{Parent: fc, Index: &at}
		}
	}
	ctx := graphql.WithFieldContext(e.ctx, fc)
	graphql.AddError(ctx, graphql.AddFieldLocationToError(ctx, e.err))
	e.out = e.out[:0]
	if root := e.failedAt[len(e.failedAt)-1].(*planField); root.kind == queryStore || root.kind == queryItem {
		e.object(p, func(*planField) bool {
			e.out = append(e.out, "null"...)
			return true
		})
	} else {
		e.out = append(e.out, "null"...)
	}
	return &graphql.Response{Data: e.out, Errors: graphql.GetErrors(e.ctx)}
}

// run writes the plan's data; false if gqlgen is to answer instead.
func (e *execution) run(p plan) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false // gqlgen runs the resolver again, and reports its panic
		}
	}()
	return e.object(p, func(f *planField) bool { return e.root(f) })
}

// object writes an object of the plan's fields, each by write.
func (e *execution) object(p plan, write func(*planField) bool) bool {
	e.out = append(e.out, '{')
	for i := range p {
		f := &p[i]
		if i > 0 {
			e.out = append(e.out, ',')
		}
		e.out = append(e.out, f.key...)
		if f.kind == typenameField {
			e.out = appendQuoted(e.out, f.typeName)
			continue
		}
		if !write(f) {
			e.failedAt = append(e.failedAt, f)
			return false
		}
	}
	e.out = append(e.out, '}')
	return true
}

// list writes n objects of the plan's fields.
func (e *execution) list(n int, p plan, write func(i int, f *planField) bool) bool {
	e.out = append(e.out, '[')
	for i := range n {
		if i > 0 {
			e.out = append(e.out, ',')
		}
		if !e.object(p, func(f *planField) bool { return write(i, f) }) {
			e.failedAt = append(e.failedAt, i)
			return false
		}
	}
	e.out = append(e.out, ']')
	return true
}

// resolverContext is the field context gqlgen gives a resolver: the resolvers read the
// field's selections (selectedPageFlags).
func (e *execution) resolverContext(object string, f *planField, args map[string]any) context.Context {
	return graphql.WithFieldContext(e.ctx, &graphql.FieldContext{
		Object: object, Field: f.field, Args: args, IsMethod: true, IsResolver: true,
	})
}

// rootResolved keeps the root field's result for gqlgen to replay (replayRoot), and gives the
// run up on its error.
func (e *execution) rootResolved(v any, err error) bool {
	e.loaders.replay = replayed{set: true, value: v, err: err}
	if err != nil {
		return e.fail(err)
	}
	return true
}

func (e *execution) root(f *planField) bool {
	raw := f.field.ArgumentMap(e.ec.Variables)
	q := e.ec.Resolvers.Query()
	switch f.kind {
	case queryStores:
		args, err := e.ec.field_Query_stores_args(e.ctx, raw)
		if err != nil {
			return e.fail(err)
		}
		c, err := q.Stores(e.resolverContext("Query", f, args), args["first"].(*int), args["after"].(*string),
			args["last"].(*int), args["before"].(*string), args["filter"].(*model.StoreFilter), args["orderBy"].(*model.StoreOrder))
		return e.rootResolved(c, err) && c != nil && e.storeConnection(f.fields, c, true)
	case queryItems:
		args, err := e.ec.field_Query_items_args(e.ctx, raw)
		if err != nil {
			return e.fail(err)
		}
		c, err := q.Items(e.resolverContext("Query", f, args), args["first"].(*int), args["after"].(*string),
			args["last"].(*int), args["before"].(*string), args["filter"].(*model.ItemFilter), args["orderBy"].(*model.ItemOrder))
		return e.rootResolved(c, err) && c != nil && e.itemConnection(f.fields, c, true)
	case queryStore:
		return rootObject(e, f, e.ec.field_Query_store_args, q.Store, e.store)
	case queryItem:
		return rootObject(e, f, e.ec.field_Query_item_args, q.Item, e.item)
	}
	return false
}

// rootObject writes the root field store(id:) or item(id:): the object read by get, or null.
func rootObject[T any](e *execution, f *planField, parse func(context.Context, map[string]any) (map[string]any, error),
	get func(context.Context, string) (*T, error), write func(plan, *T) bool) bool {
	args, err := parse(e.ctx, f.field.ArgumentMap(e.ec.Variables))
	if err != nil {
		return e.fail(err)
	}
	v, err := get(e.resolverContext("Query", f, args), args["id"].(string))
	if !e.rootResolved(v, err) {
		return false
	}
	if v == nil {
		e.out = append(e.out, "null"...)
		return true
	}
	return write(f.fields, v)
}

// connection writes connection c, a page of rows: each row as a node or in an edge, by
// field; the page info; and the count, which for the root field's connection is kept for
// gqlgen to replay (replayCount).
func connection[T any](e *execution, p plan, c any, page storage.Page[T], info func() *model.PageInfo,
	count func() (int, error), root bool, field func(*planField, T) bool) bool {
	row := func(i int, f *planField) bool { return field(f, page.Rows[i]) }
	return e.object(p, func(f *planField) bool {
		switch f.kind {
		case connectionTotalCount:
			n, err := count()
			if root {
				e.loaders.replayCount = replayed{set: true, of: c, value: n, err: err}
			}
			if err != nil {
				return e.fail(err)
			}
			e.out = strconv.AppendInt(e.out, int64(n), 10)
			return true
		case connectionNodes:
			return e.list(len(page.Rows), f.fields, row)
		case connectionEdges:
			return e.list(len(page.Rows), f.fields, func(i int, f *planField) bool {
				switch f.kind {
				case edgeCursor:
					e.out = appendQuoted(e.out, page.Cursor(i))
					return true
				case edgeNode:
					return e.object(f.fields, func(f *planField) bool { return row(i, f) })
				}
				return false
			})
		case connectionPageInfo:
			return e.pageInfo(f.fields, info())
		}
		return false
	})
}

func (e *execution) storeConnection(p plan, c *model.StoreConnection, root bool) bool {
	count := func() (int, error) { return e.ec.Resolvers.StoreConnection().TotalCount(e.ctx, c) }
	return connection(e, p, c, c.Page, c.PageInfo, count, root, e.storeField)
}

func (e *execution) itemConnection(p plan, c *model.ItemConnection, root bool) bool {
	count := func() (int, error) { return e.ec.Resolvers.ItemConnection().TotalCount(e.ctx, c) }
	return connection(e, p, c, c.Page, c.PageInfo, count, root, e.itemField)
}

func (e *execution) pageInfo(p plan, info *model.PageInfo) bool {
	return e.object(p, func(f *planField) bool {
		switch f.kind {
		case pageHasNextPage:
			e.out = strconv.AppendBool(e.out, info.HasNextPage)
		case pageHasPreviousPage:
			e.out = strconv.AppendBool(e.out, info.HasPreviousPage)
		case pageStartCursor:
			e.optionalString(info.StartCursor)
		case pageEndCursor:
			e.optionalString(info.EndCursor)
		default:
			return false
		}
		return true
	})
}

func (e *execution) optionalString(s *string) {
	if s == nil {
		e.out = append(e.out, "null"...)
		return
	}
	e.out = appendQuoted(e.out, *s)
}

func (e *execution) store(p plan, s *storage.Store) bool {
	return e.object(p, func(f *planField) bool { return e.storeField(f, s) })
}

func (e *execution) storeField(f *planField, s *storage.Store) bool {
	switch f.kind {
	case storeID:
		e.out = model.AppendGlobalID(e.out, storeType, s.ID)
	case storeName:
		e.out = appendQuoted(e.out, s.Name)
	case storeCreatedAt:
		return e.time(s.CreatedAt)
	case storeUpdatedAt:
		return e.time(s.UpdatedAt)
	case storeItems:
		args, err := e.ec.field_Store_items_args(e.ctx, f.field.ArgumentMap(e.ec.Variables))
		if err != nil {
			return e.fail(err)
		}
		c, err := e.ec.Resolvers.Store().Items(e.resolverContext("Store", f, args), s, args["first"].(*int), args["after"].(*string),
			args["last"].(*int), args["before"].(*string), args["filter"].(*model.ItemFilter), args["orderBy"].(*model.ItemOrder))
		if err != nil {
			return e.fail(err)
		}
		return c != nil && e.itemConnection(f.fields, c, false)
	default:
		return false
	}
	return true
}

func (e *execution) item(p plan, it *storage.Item) bool {
	return e.object(p, func(f *planField) bool { return e.itemField(f, it) })
}

func (e *execution) itemField(f *planField, it *storage.Item) bool {
	switch f.kind {
	case itemID:
		e.out = model.AppendGlobalID(e.out, itemType, it.ID)
	case itemName:
		e.out = appendQuoted(e.out, it.Name)
	case itemPrice:
		e.out = appendFloat(e.out, it.Price())
	case itemCreatedAt:
		return e.time(it.CreatedAt)
	case itemUpdatedAt:
		return e.time(it.UpdatedAt)
	case itemStore:
		s, err := e.ec.Resolvers.Item().Store(e.ctx, it)
		if err != nil {
			return e.fail(err)
		}
		return s != nil && e.store(f.fields, s)
	default:
		return false
	}
	return true
}

// time writes t as gqlgen's Time does: RFC 3339 with nanoseconds, quoted (it has nothing to
// escape). gqlgen writes a zero time as null, an error for these non-null fields.
func (e *execution) time(t time.Time) bool {
	if t.IsZero() {
		return false
	}
	e.out = append(e.out, '"')
	e.out = t.AppendFormat(e.out, time.RFC3339Nano)
	e.out = append(e.out, '"')
	return true
}
