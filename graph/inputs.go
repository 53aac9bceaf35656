package graph

import (
	"context"
	"errors"
	"fmt"

	"github.com/99designs/gqlgen/graphql"

	"github.com/storegraph/storegraph/graph/model"
	"github.com/storegraph/storegraph/storage"
)

// The GraphQL types whose objects have global IDs.
const (
	storeType = "Store"
	itemType  = "Item"
	userType  = "User"
)

// noRow is a row id that no row has (ids start at 1): what a global ID whose row id is too
// large for either database reads as. Storage answers it as any id it does not find
// (store(id:) null, NOT_FOUND on the field, no items for filter.storeId).
const noRow int64 = 0

// parseID reads the global ID of an object of typeName as its row id, reporting under field
// a malformed one or one of another type.
func parseID(field, typeName, id string) (int64, error) {
	t, row, err := model.ParseGlobalID(id)
	switch {
	case err != nil:
		return 0, storage.Invalid(field, `Not a valid ID: expected a global ID such as "`+model.GlobalID(typeName, 7)+`".`)
	case t != typeName:
		// The article goes by sound, not spelling: "an Item", "a User".
		article := "a"
		if typeName == itemType {
			article = "an"
		}
		return 0, storage.Invalid(field, "Not "+article+" "+typeName+" ID.")
	}
	return row, nil
}

// getByID serves store(id:) and item(id:): an id with no row is null, not an error.
func getByID[T any](ctx context.Context, typeName, id string, get func(context.Context, int64) (*T, error)) (*T, error) {
	n, err := parseID("id", typeName, id)
	if err != nil {
		return nil, err
	}
	v, err := get(ctx, n)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return v, err
}

// deleteByID serves deleteStore and deleteItem, which answer with the deleted global ID.
func deleteByID(ctx context.Context, typeName, id string, del func(context.Context, storage.Actor, int64) error) (string, error) {
	a, err := actor(ctx)
	if err != nil {
		return "", err
	}
	n, err := parseID("id", typeName, id)
	if err != nil {
		return "", err
	}
	if err := del(ctx, a, n); err != nil {
		return "", err
	}
	return model.GlobalID(typeName, n), nil
}

// optionalID parses an omittable global ID; null and absent both mean "not given".
func optionalID(field, typeName string, id graphql.Omittable[*string]) (*int64, error) {
	s := id.Value()
	if s == nil {
		return nil, nil
	}
	n, err := parseID(field, typeName, *s)
	return &n, err
}

// nodes serves node and nodes: the objects with the given global IDs, in their order, nil
// where there is none, read with one statement per type. field names the argument for
// malformed IDs.
func (r *Resolver) nodes(ctx context.Context, field string, ids []string) ([]model.Node, error) {
	if len(ids) > r.MaxPageSize {
		return nil, storage.Invalid(field, fmt.Sprintf("At most %d ids.", r.MaxPageSize))
	}
	type ref struct {
		typeName string
		row      int64
	}
	refs := make([]ref, len(ids))
	rows := map[string][]int64{}
	for i, id := range ids {
		t, row, err := model.ParseGlobalID(id)
		if err != nil {
			return nil, storage.Invalid(field, fmt.Sprintf("Not a valid ID: %q.", id))
		}
		refs[i] = ref{t, row}
		rows[t] = append(rows[t], row)
	}
	found := map[ref]model.Node{}
	for typeName, read := range r.nodeReaders() {
		if len(rows[typeName]) == 0 {
			continue
		}
		nodes, err := read(ctx, rows[typeName])
		if err != nil {
			return nil, err
		}
		for id, n := range nodes {
			found[ref{typeName, id}] = n
		}
	}
	out := make([]model.Node, len(refs))
	for i, ref := range refs {
		out[i] = found[ref] // nil for an unknown row or type
	}
	return out, nil
}

// nodeReaders read the objects of each type with a global ID by row id, one statement per
// type: a type that implements Node is added here.
func (r *Resolver) nodeReaders() map[string]func(context.Context, []int64) (map[int64]model.Node, error) {
	// The objects asked for together are siblings for their nested fields, as a page's are:
	// each nested field is then one statement for all of them, whenever each is resolved.
	return map[string]func(context.Context, []int64) (map[int64]model.Node, error){
		storeType: asNodes(func(ctx context.Context, ids []int64) (map[int64]*storage.Store, error) {
			stores, err := r.DB.GetStores(ctx, ids)
			loadersFor(ctx).addStorePage(found(ids, stores))
			return stores, err
		}),
		itemType: asNodes(func(ctx context.Context, ids []int64) (map[int64]*storage.Item, error) {
			items, err := r.DB.GetItems(ctx, ids)
			loadersFor(ctx).addItemPage(found(ids, items))
			return items, err
		}),
		userType: asNodes(func(ctx context.Context, ids []int64) (map[int64]*storage.User, error) {
			loadersFor(ctx).addUsers(ids)
			return r.DB.GetUsers(ctx, ids)
		}),
	}
}

// found is the rows of ids that byID holds, in the order of ids.
func found[T any](ids []int64, byID map[int64]*T) []*T {
	rows := make([]*T, 0, len(byID))
	for _, id := range ids {
		if row, ok := byID[id]; ok {
			rows = append(rows, row)
		}
	}
	return rows
}

// asNodes turns a batch read of one entity into a batch read of Nodes.
func asNodes[T any](read func(context.Context, []int64) (map[int64]*T, error)) func(context.Context, []int64) (map[int64]model.Node, error) {
	return func(ctx context.Context, ids []int64) (map[int64]model.Node, error) {
		rows, err := read(ctx, ids)
		nodes := make(map[int64]model.Node, len(rows))
		for id, row := range rows {
			nodes[id] = row
		}
		return nodes, err
	}
}

// notNull reports an explicit null for an input field that may be omitted but not nulled.
func notNull[T any](field string, v graphql.Omittable[*T]) error {
	if v.IsSet() && v.Value() == nil {
		return storage.Invalid(field, "Must not be null; omit the field to keep its value.")
	}
	return nil
}

// pageArgs are the connection arguments of the field being resolved. Whether rows lie beyond
// the client's cursor costs a statement of its own, so storage is told which of pageInfo's
// flags the selection leaves unread.
func (r *Resolver) pageArgs(ctx context.Context, first *int, after *string, last *int, before *string) storage.PageArgs {
	next, prev := selectedPageFlags(ctx)
	return storage.PageArgs{First: first, After: after, Last: last, Before: before, Max: r.MaxPageSize,
		SkipHasNextPage: !next, SkipHasPreviousPage: !prev}
}

// selectedPageFlags reports whether the connection field being resolved selects pageInfo's
// hasNextPage and hasPreviousPage, directly or through fragments.
func selectedPageFlags(ctx context.Context) (next, prev bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return true, true
	}
	op := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFields(op, fc.Field.Selections, nil) {
		if f.Name != "pageInfo" {
			continue
		}
		for _, flag := range graphql.CollectFields(op, f.Selections, nil) {
			next = next || flag.Name == "hasNextPage"
			prev = prev || flag.Name == "hasPreviousPage"
		}
	}
	return next, prev
}

func storeOrder(o *model.StoreOrder) storage.Order {
	if o == nil {
		return storage.Order{}
	}
	return storage.Order{Field: string(o.Field), Direction: storage.SortDirection(o.Direction)}
}

func itemOrder(o *model.ItemOrder) storage.Order {
	if o == nil {
		return storage.Order{}
	}
	return storage.Order{Field: string(o.Field), Direction: storage.SortDirection(o.Direction)}
}

func storeFilter(f *model.StoreFilter) storage.StoreFilter {
	if f == nil {
		return storage.StoreFilter{}
	}
	return storage.StoreFilter{NameContains: f.NameContains.Value()}
}

func itemFilter(f *model.ItemFilter) (storage.ItemFilter, error) {
	if f == nil {
		return storage.ItemFilter{}, nil
	}
	storeID, err := optionalID("storeId", storeType, f.StoreID)
	return storage.ItemFilter{
		StoreID:      storeID,
		NameContains: f.NameContains.Value(),
		MinPrice:     f.MinPrice.Value(),
		MaxPrice:     f.MaxPrice.Value(),
	}, err
}
