package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/storegraph/storegraph/graph"
)

// limits bound one GraphQL request: its body, then its document, then the room it takes
// among the operations executing at once.
type limits struct {
	bodyBytes int
	document  graph.Limits
	admission graph.Admission
}

// loadLimits reads the MAX_* variables and ADMISSION_TIMEOUT; an unset one keeps its
// default, 0 turns a limit off (except MAX_PAGE_SIZE, which must be at least 1).
func loadLimits() (limits, error) {
	l := limits{bodyBytes: 1 << 20, document: graph.DefaultLimits, admission: graph.DefaultAdmission}
	for _, v := range []struct {
		name string
		dst  *int
		min  int
	}{
		{"MAX_BODY_BYTES", &l.bodyBytes, 0},
		{"MAX_QUERY_BYTES", &l.document.Bytes, 0},
		{"MAX_QUERY_TOKENS", &l.document.Tokens, 0},
		{"MAX_QUERY_FIELDS", &l.document.Fields, 0},
		{"MAX_FIELD_REPEATS", &l.document.FieldRepeats, 0},
		{"MAX_QUERY_DEPTH", &l.document.Depth, 0},
		{"MAX_QUERY_ALIASES", &l.document.Aliases, 0},
		{"MAX_QUERY_COMPLEXITY", &l.document.Complexity, 0},
		{"MAX_PAGE_SIZE", &l.document.PageSize, 1},
		{"MAX_INFLIGHT_COST", &l.admission.Budget, 0},
	} {
		s := os.Getenv(v.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < v.min {
			return l, fmt.Errorf("%s=%q is not a whole number of at least %d", v.name, s, v.min)
		}
		*v.dst = n
	}
	var err error
	l.admission.Wait, err = envDuration("ADMISSION_TIMEOUT", l.admission.Wait, "500ms")
	return l, err
}
