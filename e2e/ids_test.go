package e2e

// Global IDs (issue 8): every object's id is "gid://storegraph/<Type>/<row>", where row is
// its id in the database, and every argument naming an object takes one. Tests that meet
// rows outside the API (in SQL, in the order rows were inserted, in numeric comparisons)
// cross between the two with globalID and parseGlobalID only; the form is written down here,
// apart from the server's code, so that the tests check it rather than share it.

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
)

// The types whose objects have global IDs, as the schema names them.
const (
	storeType = "Store"
	itemType  = "Item"
)

// globalIDPrefix starts every global ID.
const globalIDPrefix = "gid://storegraph/"

// globalIDPattern is a global ID as the server writes it: a type name and a row id in
// canonical decimal (no sign, no leading zero).
var globalIDPattern = regexp.MustCompile(`^gid://storegraph/([A-Z][A-Za-z]*)/([1-9][0-9]*)$`)

// globalID is the global ID of row row of typeName, e.g. globalID(storeType, 7) is
// "gid://storegraph/Store/7".
func globalID(typeName string, row int64) string {
	return rawGlobalID(typeName, strconv.FormatInt(row, 10))
}

// rawGlobalID is the global ID of typeName with row spelled as given: for rows beyond int64
// and for malformed IDs ("-1", "007", "abc").
func rawGlobalID(typeName, row string) string {
	return globalIDPrefix + typeName + "/" + row
}

// parseGlobalID is the row id of id, a global ID of typeName as the server writes it; any
// other string is an error. It does not use t, so goroutines may call it.
func parseGlobalID(typeName, id string) (int64, error) {
	m := globalIDPattern.FindStringSubmatch(id)
	if m == nil {
		return 0, fmt.Errorf("%q is not a global ID", id)
	}
	if m[1] != typeName {
		return 0, fmt.Errorf("%q is the global ID of a %s, want a %s", id, m[1], typeName)
	}
	row, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: row id beyond int64: %w", id, err)
	}
	return row, nil
}

// rowID is parseGlobalID that fails t.
func rowID(t testing.TB, typeName, id string) int64 {
	t.Helper()
	row, err := parseGlobalID(typeName, id)
	if err != nil {
		t.Fatalf("%s id: %v", typeName, err)
	}
	return row
}

// malformedIDMessage is the BAD_USER_INPUT message for a malformed ID where one of typeName
// is wanted.
func malformedIDMessage(typeName string) string {
	return `Not a valid ID: expected a global ID such as "` + globalID(typeName, 7) + `".`
}

// wrongTypeMessage is the BAD_USER_INPUT message for a well-formed ID of another type where
// one of typeName is wanted.
func wrongTypeMessage(typeName string) string {
	switch typeName {
	case storeType:
		return "Not a Store ID."
	case itemType:
		return "Not an Item ID."
	}
	panic("no global IDs of type " + typeName)
}
