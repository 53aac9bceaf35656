package main

import (
	"testing"
	"time"

	"github.com/storegraph/storegraph/graph"
)

func TestLoadLimits(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    limits
		wantErr string
	}{
		{"unset keeps the defaults", nil, limits{bodyBytes: 1 << 20, document: graph.DefaultLimits, admission: graph.DefaultAdmission}, ""},
		{"each variable sets its limit", map[string]string{
			"MAX_BODY_BYTES": "2048", "MAX_QUERY_BYTES": "1024", "MAX_QUERY_TOKENS": "100", "MAX_QUERY_FIELDS": "80",
			"MAX_FIELD_REPEATS": "4", "MAX_QUERY_DEPTH": "5", "MAX_QUERY_ALIASES": "3", "MAX_QUERY_COMPLEXITY": "1000",
			"MAX_PAGE_SIZE": "50", "MAX_INFLIGHT_COST": "5000", "ADMISSION_TIMEOUT": "2s",
		}, limits{bodyBytes: 2048,
			document:  graph.Limits{Bytes: 1024, Tokens: 100, Fields: 80, FieldRepeats: 4, Depth: 5, Aliases: 3, Complexity: 1000, PageSize: 50},
			admission: graph.Admission{Budget: 5000, Wait: 2 * time.Second}}, ""},
		{"0 turns a limit off", map[string]string{"MAX_QUERY_DEPTH": "0", "MAX_INFLIGHT_COST": "0"},
			limits{bodyBytes: 1 << 20,
				document:  graph.Limits{Bytes: 32 << 10, Tokens: 5000, Fields: 2000, FieldRepeats: 20, Aliases: 30, Complexity: 200_000, PageSize: 100},
				admission: graph.Admission{Wait: 500 * time.Millisecond}}, ""},
		{"a page size of 0 is refused", map[string]string{"MAX_PAGE_SIZE": "0"}, limits{}, `MAX_PAGE_SIZE="0" is not a whole number of at least 1`},
		{"a negative limit is refused", map[string]string{"MAX_QUERY_ALIASES": "-1"}, limits{}, `MAX_QUERY_ALIASES="-1" is not a whole number of at least 0`},
		{"a size with a unit is refused", map[string]string{"MAX_BODY_BYTES": "1MiB"}, limits{}, `MAX_BODY_BYTES="1MiB" is not a whole number of at least 0`},
		{"an admission timeout without a unit is refused", map[string]string{"ADMISSION_TIMEOUT": "500"}, limits{},
			`ADMISSION_TIMEOUT="500" is not a positive duration such as 500ms`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unsetConfig(t, tt.env)
			got, err := loadLimits()
			if !checkError(t, err, tt.wantErr) {
				return
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
