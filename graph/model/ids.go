// Package model holds the GraphQL-side types that are not storage entities: connections,
// edges, page info, and the generated inputs and enums.
package model

import (
	"fmt"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
)

// MarshalInt64ID writes a database id as a GraphQL ID, which is a string: 7 becomes "7".
func MarshalInt64ID(id int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = w.Write(strconv.AppendQuote(nil, strconv.FormatInt(id, 10)))
	})
}

// UnmarshalInt64ID reads a GraphQL ID as a database id. Inputs bind IDs as strings and parse
// them in the resolvers, which know the field name to report; this exists for gqlgen's
// scalar contract.
func UnmarshalInt64ID(v any) (int64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("%T is not an ID", v)
	}
	return strconv.ParseInt(s, 10, 64)
}
