package storage

import (
	"context"
	"sync/atomic"
)

// StatementCounter counts the SQL statements run on behalf of one context, typically one
// GraphQL request: the guard that keeps nested queries at a handful of statements.
type StatementCounter struct {
	n atomic.Int64
}

// Count is the number of statements run so far.
func (c *StatementCounter) Count() int64 { return c.n.Load() }

type statementCounterKey struct{}

// WithStatementCounter returns a context whose statements are counted by the returned counter.
func WithStatementCounter(ctx context.Context) (context.Context, *StatementCounter) {
	c := &StatementCounter{}
	return context.WithValue(ctx, statementCounterKey{}, c), c
}

func countStatement(ctx context.Context) {
	if c, ok := ctx.Value(statementCounterKey{}).(*StatementCounter); ok {
		c.n.Add(1)
	}
}
