package graph

import (
	"context"
	"errors"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/storegraph/storegraph/graph/model"
	"github.com/storegraph/storegraph/storage"
)

// noRow is an id that no row has: ids start at 1.
const noRow int64 = 0

// parseID reads a GraphQL ID as a database id, reporting a malformed one under field. A
// positive integer too large for int64 is well formed, but neither database can hold it, so
// it names no row: it reads as noRow, and storage answers it as it answers any id it does not
// find (store(id:) null, NOT_FOUND on field, no items for filter.storeId).
func parseID(field, id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) && n > 0:
		return noRow, nil
	case err != nil || n <= 0:
		return 0, storage.Invalid(field, `Not a valid ID: expected a positive integer such as "7".`)
	}
	return n, nil
}

// formatID writes a database id as a GraphQL ID.
func formatID(id int64) string { return strconv.FormatInt(id, 10) }

// getByID serves store(id:) and item(id:): an id with no row is null, not an error.
func getByID[T any](ctx context.Context, id string, get func(context.Context, int64) (*T, error)) (*T, error) {
	n, err := parseID("id", id)
	if err != nil {
		return nil, err
	}
	v, err := get(ctx, n)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return v, err
}

// deleteByID serves deleteStore and deleteItem, which answer with the deleted id.
func deleteByID(ctx context.Context, id string, del func(context.Context, int64) error) (string, error) {
	n, err := parseID("id", id)
	if err != nil {
		return "", err
	}
	if err := del(ctx, n); err != nil {
		return "", err
	}
	return formatID(n), nil
}

// optionalID parses an omittable ID; null and absent both mean "not given".
func optionalID(field string, id graphql.Omittable[*string]) (*int64, error) {
	s := id.Value()
	if s == nil {
		return nil, nil
	}
	n, err := parseID(field, *s)
	return &n, err
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
	storeID, err := optionalID("storeId", f.StoreID)
	return storage.ItemFilter{
		StoreID:      storeID,
		NameContains: f.NameContains.Value(),
		MinPrice:     f.MinPrice.Value(),
		MaxPrice:     f.MaxPrice.Value(),
	}, err
}
