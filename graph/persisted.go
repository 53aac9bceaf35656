package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// persistedQueries is Apollo's automatic persisted queries: once the server has seen a
// document with its SHA-256 hash, the client may send the hash alone. gqlgen's extension
// reads the protocol, but stores whatever arrives with a matching hash, before it is even
// parsed; here a document is registered only once it has parsed, validated and passed the
// limits, so the store holds nothing a client could not run.
type persistedQueries struct {
	store graphql.Cache[string] // hash -> document
}

// persistedExtension is the key under which the hash of a document to register waits in the
// operation's Stats until the document has been validated.
const persistedExtension = "PersistedQuery"

// lookup is gqlgen's extension over the store, with registration deferred.
func (p persistedQueries) lookup() graphql.HandlerExtension {
	return extension.AutomaticPersistedQuery{Cache: deferredAdds(p)}
}

// deferredAdds is the store as gqlgen's extension sees it: it looks documents up, and its
// Add, which the extension calls before parsing, only notes the hash in the operation's
// Stats for the registration to find.
type deferredAdds persistedQueries

func (d deferredAdds) Get(ctx context.Context, hash string) (string, bool) {
	return d.store.Get(ctx, hash)
}

func (deferredAdds) Add(ctx context.Context, hash, _ string) {
	graphql.GetOperationContext(ctx).Stats.SetExtension(persistedExtension, hash)
}

// registration registers documents: it is installed after the limits, so that it sees only
// documents that have been validated and passed them.
func (p persistedQueries) registration() graphql.HandlerExtension { return persistedRegistration(p) }

type persistedRegistration persistedQueries

func (persistedRegistration) ExtensionName() string                   { return "AutomaticPersistedQueryRegistration" }
func (persistedRegistration) Validate(graphql.ExecutableSchema) error { return nil }

func (p persistedRegistration) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if hash, ok := op.Stats.GetExtension(persistedExtension).(string); ok {
		p.store.Add(ctx, hash, op.RawQuery)
	}
	return nil
}
