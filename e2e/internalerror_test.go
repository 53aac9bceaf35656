package e2e

import (
	"database/sql"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver, to break the test's own database
)

func TestADatabaseErrorIsAnInternalErrorThatKeepsItsSQLInTheLog(t *testing.T) {
	// The one failure nothing else in the suite provokes: a statement the database refuses
	// for a reason that is nobody's input. Renaming a column under the running server does it
	// for reads and writes alike, on both databases.
	eachBackend(t, func(t *testing.T, s *server) {
		storeID := createStore(t, s, "Kept").ID
		var added struct{ CreateItem Item }
		s.OK(t, &added, `mutation($s: ID!) { createItem(input: {name: "Kept item", price: 1.5, storeId: $s}) { id name price } }`, vars{"s": storeID})
		before := added.CreateItem

		alterItems(t, s, "RENAME COLUMN name TO name_gone")
		tests := []struct {
			name, query string
		}{
			{"read", `{ items(first: 5) { nodes { name } } }`},
			{"write", `mutation($s: ID!) { createItem(input: {name: "Lost", price: 2, storeId: $s}) { id } }`},
		}
		for _, tt := range tests {
			req, err := s.postRequest(tt.query, vars{"s": storeID}, "")
			if err != nil {
				t.Fatal(err)
			}
			requestID := "internal-" + tt.name
			req.Header.Set("X-Request-ID", requestID)
			r, err := s.send(t, req, tt.query)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if r.Status != http.StatusOK || len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "INTERNAL_SERVER_ERROR" || r.Errors[0].Message != "internal error" {
				t.Fatalf("%s: status %d, errors %v; want one INTERNAL_SERVER_ERROR \"internal error\"", tt.name, r.Status, r.Errors)
			}
			for _, w := range []string{"no such column", "does not exist", "SQLSTATE", "SELECT", "INSERT"} {
				if strings.Contains(r.Body, w) {
					t.Fatalf("%s: the response mentions %q: %s", tt.name, w, r.Body)
				}
			}
			// The operator gets what the client does not, under the request's ID.
			logged := func() bool {
				return slices.ContainsFunc(strings.Split(s.Stderr(), "\n"), func(line string) bool {
					return strings.Contains(line, `"level":"ERROR"`) && strings.Contains(line, `"request_id":"`+requestID+`"`) &&
						strings.Contains(line, "column")
				})
			}
			if !eventually(2*time.Second, logged) {
				t.Fatalf("%s: no error log line with the database's message and request ID %s:\n%s", tt.name, requestID, s.Stderr())
			}
		}

		// Nothing stored was touched, and the server serves as before once the column is back.
		alterItems(t, s, "RENAME COLUMN name_gone TO name")
		var got struct{ Item Item }
		s.OK(t, &got, `query($id: ID!) { item(id: $id) { id name price } }`, vars{"id": before.ID})
		if got.Item != before {
			t.Fatalf("item after the failures = %+v, want %+v", got.Item, before)
		}
		var items struct{ Items Connection[Item] }
		s.OK(t, &items, `{ items(first: 5) { totalCount } }`, nil)
		if items.Items.TotalCount != 1 {
			t.Fatalf("items after the failures: %d, want 1", items.Items.TotalCount)
		}
	})
}

// alterItems changes the items table of the server's database behind its back.
func alterItems(t *testing.T, s *server, change string) {
	t.Helper()
	driver, dsn := "pgx", s.DBURL
	if path, ok := strings.CutPrefix(s.DBURL, "sqlite:"); ok {
		driver, dsn = "sqlite3", path
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("ALTER TABLE items " + change); err != nil {
		t.Fatalf("alter items: %v", err)
	}
}
