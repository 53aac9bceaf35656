package graph

import (
	"context"

	"github.com/storegraph/storegraph/graph/model"
	"github.com/storegraph/storegraph/storage"
)

// listItems serves both Query.items and Store.items.
func (r *Resolver) listItems(ctx context.Context, f storage.ItemFilter, order *model.ItemOrder, page storage.PageArgs) (*model.ItemConnection, error) {
	p, err := r.DB.ListItems(ctx, f, itemOrder(order), page)
	if err != nil {
		return nil, err
	}
	return &model.ItemConnection{Page: p, Filter: f}, nil
}
