package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// CodePersistedQueryNotFound asks the client to send the document with its hash (Apollo's
// automatic persisted queries).
const CodePersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND"

// persistedQueries is Apollo's automatic persisted queries: once the server has seen a
// document with its SHA-256 hash, the client may send the hash alone. Unlike gqlgen's
// extension, which stores whatever arrives with a matching hash, a document is registered
// only once it has parsed, validated and passed the limits, so the store holds nothing a
// client could not run.
type persistedQueries struct {
	store graphql.Cache[string] // hash -> document
}

// persistedExtension is the key under which the hash of a document to register waits in the
// operation's Stats until the document has been validated.
const persistedExtension = "PersistedQuery"

func (persistedQueries) ExtensionName() string                   { return "AutomaticPersistedQuery" }
func (persistedQueries) Validate(graphql.ExecutableSchema) error { return nil }

func (p persistedQueries) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	ext, ok := params.Extensions["persistedQuery"].(map[string]any)
	if !ok {
		if params.Extensions["persistedQuery"] != nil {
			return gqlerror.Errorf("invalid APQ extension data")
		}
		return nil
	}
	if v, _ := ext["version"].(interface{ String() string }); v == nil || v.String() != "1" {
		return gqlerror.Errorf("unsupported APQ version")
	}
	hash, _ := ext["sha256Hash"].(string)
	if params.Query == "" {
		query, found := p.store.Get(ctx, hash)
		if !found {
			err := gqlerror.Errorf("PersistedQueryNotFound")
			errcode.Set(err, CodePersistedQueryNotFound)
			return err
		}
		params.Query = query
		return nil
	}
	sum := sha256.Sum256([]byte(params.Query))
	if hex.EncodeToString(sum[:]) != hash {
		return gqlerror.Errorf("provided APQ hash does not match query")
	}
	graphql.GetOperationContext(ctx).Stats.SetExtension(persistedExtension, hash)
	return nil
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
