package graph

import (
	"container/list"
	"context"
	"sync"
)

// byteLRU is a least-recently-used cache bounded by the bytes of what it holds, not by the
// number of entries: clients choose the documents, and a cache that counts entries lets a
// thousand large ones pin a gigabyte (and a live heap that size keeps the garbage collector
// running without pause). It implements graphql.Cache for gqlgen's query cache and the
// persisted-query store.
type byteLRU[T any] struct {
	budget   int // bytes held at most
	maxEntry int // an entry costing more is not kept at all
	cost     func(key string, value T) int

	mu    sync.Mutex
	used  int
	order *list.List // of *lruEntry[T], most recently used first
	byKey map[string]*list.Element
}

type lruEntry[T any] struct {
	key   string
	value T
	cost  int
}

func newByteLRU[T any](budget, maxEntry int, cost func(string, T) int) *byteLRU[T] {
	return &byteLRU[T]{budget: budget, maxEntry: maxEntry, cost: cost, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *byteLRU[T]) Get(_ context.Context, key string) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		var zero T
		return zero, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry[T]).value, true
}

// Add keeps value under key unless it alone would cost more than maxEntry, evicting the least
// recently used entries until the budget holds it.
func (c *byteLRU[T]) Add(_ context.Context, key string, value T) {
	cost := c.cost(key, value)
	if cost > c.maxEntry || cost > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.remove(el)
	}
	for c.used+cost > c.budget {
		c.remove(c.order.Back())
	}
	c.byKey[key] = c.order.PushFront(&lruEntry[T]{key: key, value: value, cost: cost})
	c.used += cost
}

func (c *byteLRU[T]) remove(el *list.Element) {
	e := c.order.Remove(el).(*lruEntry[T])
	delete(c.byKey, e.key)
	c.used -= e.cost
}

// usedBytes is what the cache holds now, by its own accounting.
func (c *byteLRU[T]) usedBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}
