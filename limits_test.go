package main

import (
	"testing"

	"github.com/storegraph/storegraph/graph"
)

func TestLoadLimits(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    limits
		wantErr string
	}{
		{"unset keeps the defaults", nil, limits{bodyBytes: 1 << 20, document: graph.DefaultLimits}, ""},
		{"each variable sets its limit", map[string]string{
			"MAX_BODY_BYTES": "2048", "MAX_QUERY_TOKENS": "100", "MAX_QUERY_DEPTH": "5",
			"MAX_QUERY_ALIASES": "3", "MAX_QUERY_COMPLEXITY": "1000", "MAX_PAGE_SIZE": "50",
		}, limits{bodyBytes: 2048, document: graph.Limits{Tokens: 100, Depth: 5, Aliases: 3, Complexity: 1000, PageSize: 50}}, ""},
		{"0 turns a limit off", map[string]string{"MAX_QUERY_DEPTH": "0"},
			limits{bodyBytes: 1 << 20, document: graph.Limits{Tokens: 5000, Aliases: 30, Complexity: 200_000, PageSize: 100}}, ""},
		{"a page size of 0 is refused", map[string]string{"MAX_PAGE_SIZE": "0"}, limits{}, `MAX_PAGE_SIZE="0" is not a whole number of at least 1`},
		{"a negative limit is refused", map[string]string{"MAX_QUERY_ALIASES": "-1"}, limits{}, `MAX_QUERY_ALIASES="-1" is not a whole number of at least 0`},
		{"a size with a unit is refused", map[string]string{"MAX_BODY_BYTES": "1MiB"}, limits{}, `MAX_BODY_BYTES="1MiB" is not a whole number of at least 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"MAX_BODY_BYTES", "MAX_QUERY_TOKENS", "MAX_QUERY_DEPTH", "MAX_QUERY_ALIASES", "MAX_QUERY_COMPLEXITY", "MAX_PAGE_SIZE"} {
				t.Setenv(name, tt.env[name])
			}
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
