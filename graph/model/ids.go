// Package model holds the GraphQL-side types that are not storage entities: connections,
// edges, page info, and the generated inputs and enums.
package model

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
)

// Global IDs name an object's type and row, so that they are unique across types: Relay, and
// any client cache keyed by id alone, would otherwise merge store 1 and item 1 into one
// record. The form is Shopify's readable one, gid://storegraph/Store/7, which a person
// reading GraphiQL understands; clients are told to treat it as opaque. It depends on nothing
// but the type's name and the row's id, so it is the same across restarts, releases and both
// databases.
const globalIDPrefix = "gid://storegraph/"

// GlobalID is the global ID of row id of the GraphQL type typeName.
func GlobalID(typeName string, id int64) string {
	return globalIDPrefix + typeName + "/" + strconv.FormatInt(id, 10)
}

// ErrMalformedID is a string that is not a global ID this server writes.
var ErrMalformedID = errors.New("malformed global ID")

// ParseGlobalID splits a global ID into its type and row id. A row id too large for int64 is
// well formed, but names no row: it reads as 0, which no row has (ids start at 1).
func ParseGlobalID(id string) (typeName string, row int64, err error) {
	rest, ok := strings.CutPrefix(id, globalIDPrefix)
	if !ok {
		return "", 0, ErrMalformedID
	}
	typeName, digits, ok := strings.Cut(rest, "/")
	if !ok || typeName == "" || digits == "" || digits[0] == '0' || strings.Trim(digits, "0123456789") != "" {
		return "", 0, ErrMalformedID
	}
	row, err = strconv.ParseInt(digits, 10, 64)
	if err != nil { // only a range error is left
		return typeName, 0, nil
	}
	return typeName, row, nil
}

// MarshalInt64ID writes a row id as the global ID of the object whose id field is being
// written: Store.id and Item.id are the schema's int64 IDs, and the field's context, which
// gqlgen passes when it writes the value, names the object's type.
func MarshalInt64ID(id int64) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(ctx context.Context, w io.Writer) error {
		_, err := w.Write(AppendGlobalID(nil, graphql.GetFieldContext(ctx).Object, id))
		return err
	})
}

// AppendGlobalID appends the global ID of row id of typeName as a JSON string.
func AppendGlobalID(b []byte, typeName string, id int64) []byte {
	return strconv.AppendQuote(b, GlobalID(typeName, id))
}

// UnmarshalInt64ID exists for gqlgen's scalar contract: inputs bind IDs as strings and are
// parsed in the resolvers, which know the field name to report and the type to want.
func UnmarshalInt64ID(_ context.Context, v any) (int64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("%T is not an ID", v)
	}
	_, row, err := ParseGlobalID(s)
	return row, err
}

// Node is an object with a global ID: a *storage.Store or a *storage.Item. The interface is
// empty because the entities are storage's, which knows nothing of GraphQL; gqlgen's code
// switches on the concrete type.
type Node interface{}
