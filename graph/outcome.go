package graph

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// ErrorCodes returns the extensions.code of every error the response carries, in the order
// they were presented, for the server's metrics.
func (i *RequestInfo) ErrorCodes() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.codes)
}

func (i *RequestInfo) addCode(code string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.codes = append(i.codes, code)
}

// firstUnavailable reports whether this is the request's first UNAVAILABLE error.
func (i *RequestInfo) firstUnavailable() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	first := !i.unavailable
	i.unavailable = true
	return first
}

func requestInfo(ctx context.Context) *RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*RequestInfo)
	return info
}

// recordCodes wraps an error presenter so that the code of each error it presents is
// recorded in the request's RequestInfo. Every error of a GraphQL response, gqlgen's own
// included, goes through the presenter.
func recordCodes(present graphql.ErrorPresenterFunc) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		e := present(ctx, err)
		if info := requestInfo(ctx); info != nil {
			code, _ := e.Extensions["code"].(string)
			info.addCode(code)
		}
		return e
	}
}

// OperationRefused reports whether an error has been presented in ctx's request, whose
// RequestInfo records it: a subscription that its resolver (or its arguments) refused
// answers with its errors alone and has no stream, for which a transport waiting for
// delivery notices would wait forever.
func OperationRefused(ctx context.Context) bool {
	info := requestInfo(ctx)
	return info != nil && len(info.ErrorCodes()) > 0
}
