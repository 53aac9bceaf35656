// Package graph is the GraphQL side of storegraph: resolvers generated from schema.graphqls
// by gqlgen, the translation of GraphQL arguments into storage calls, and errors.go, the one
// place where storage errors become GraphQL errors.
package graph

//go:generate go tool gqlgen generate

import (
	"log/slog"

	"github.com/storegraph/storegraph/events"
	"github.com/storegraph/storegraph/storage"
)

// Resolver holds what the resolvers need: the database, a logger for internal errors, the
// largest page a connection may ask for (zero: storage.MaxPageSize), what signing in needs
// and the change log's fan-out.
type Resolver struct {
	DB          *storage.DB
	Log         *slog.Logger
	MaxPageSize int
	Accounts    Accounts
	// Events fans the change log out to subscriptions.
	Events *events.Hub
}
