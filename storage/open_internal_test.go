package storage

import (
	"net/url"
	"strings"
	"testing"
)

// Every SQLite connection keeps at most stmtCacheSize statements prepared: the driver keeps
// them in an LRU of _stmt_cache_size and finalizes the oldest beyond it, so a stream of
// distinct statements (IN lists of every length) cannot grow a connection's memory.
func TestSQLiteConnectionsKeepABoundedNumberOfStatements(t *testing.T) {
	for _, databaseURL := range []string{"sqlite:data.db", "sqlite::memory:"} {
		t.Run(databaseURL, func(t *testing.T) {
			_, dsn, err := parseURL(databaseURL)
			if err != nil {
				t.Fatal(err)
			}
			_, query, _ := strings.Cut(dsn, "?")
			params, err := url.ParseQuery(query)
			if err != nil {
				t.Fatal(err)
			}
			if got := params["_stmt_cache_size"]; len(got) != 1 || got[0] != "64" {
				t.Errorf("_stmt_cache_size = %q in %q, want [64]", got, dsn)
			}
		})
	}
}
