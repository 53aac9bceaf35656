package model

import "github.com/storegraph/storegraph/storage"

// PageInfo is Relay's page information.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     *string
	EndCursor       *string
}

// StoreConnection is a page of stores. Filter is kept for totalCount, which is counted
// only when a client selects it.
type StoreConnection struct {
	Page   storage.Page[*storage.Store]
	Filter storage.StoreFilter
}

// StoreEdge is a store with its cursor.
type StoreEdge struct {
	Cursor string
	Node   *storage.Store
}

// Edges pairs each store with its cursor.
func (c *StoreConnection) Edges() []*StoreEdge {
	return edges(c.Page, func(cursor string, s *storage.Store) *StoreEdge { return &StoreEdge{cursor, s} })
}

// Nodes are the stores of the page.
func (c *StoreConnection) Nodes() []*storage.Store { return c.Page.Rows }

// PageInfo says where the page sits.
func (c *StoreConnection) PageInfo() *PageInfo { return pageInfo(c.Page) }

// ItemConnection is a page of items. Filter is kept for totalCount.
type ItemConnection struct {
	Page   storage.Page[*storage.Item]
	Filter storage.ItemFilter
}

// ItemEdge is an item with its cursor.
type ItemEdge struct {
	Cursor string
	Node   *storage.Item
}

// Edges pairs each item with its cursor.
func (c *ItemConnection) Edges() []*ItemEdge {
	return edges(c.Page, func(cursor string, it *storage.Item) *ItemEdge { return &ItemEdge{cursor, it} })
}

// Nodes are the items of the page.
func (c *ItemConnection) Nodes() []*storage.Item { return c.Page.Rows }

// PageInfo says where the page sits.
func (c *ItemConnection) PageInfo() *PageInfo { return pageInfo(c.Page) }

func edges[T, E any](p storage.Page[T], edge func(string, T) E) []E {
	out := make([]E, len(p.Rows))
	for i, r := range p.Rows {
		out[i] = edge(p.Cursor(i), r)
	}
	return out
}

func pageInfo[T any](p storage.Page[T]) *PageInfo {
	info := &PageInfo{HasNextPage: p.HasNextPage, HasPreviousPage: p.HasPreviousPage}
	if n := len(p.Rows); n > 0 {
		start, end := p.Cursor(0), p.Cursor(n-1)
		info.StartCursor, info.EndCursor = &start, &end
	}
	return info
}
