package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage/storagetest"
)

// TestHotQueriesUseIndexes asks Postgres's planner, on 100 stores of 200 items each and 5000
// stores of 100 users, how it runs the statements the API sends most: each must seek an
// index, not scan the table.
func TestHotQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	db := openMigrated(t, storagetest.NewPostgres(t))
	for _, sql := range []string{
		`INSERT INTO stores (name, name_key, created_at, updated_at)
		 SELECT 'Store ' || g, 'store ' || g, now(), now() FROM generate_series(1, 100) g`,
		`INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at)
		 SELECT 1 + g % 100, 'Item ' || g, 'item ' || g, g % 5000, now() + g * interval '1 ms', now() FROM generate_series(1, 20000) g`,
		// 100 users owning 50 stores each, besides the unowned stores above.
		`INSERT INTO users (email, email_key, password_hash, role, created_at, updated_at)
		 SELECT 'u' || g || '@example.com', 'u' || g || '@example.com', 'x', 'USER', now(), now() FROM generate_series(1, 100) g`,
		`INSERT INTO stores (name, name_key, owner_id, created_at, updated_at)
		 SELECT 'Owned ' || g, 'owned ' || g, 1 + g % 100, now(), now() FROM generate_series(1, 5000) g`,
		`ANALYZE`,
	} {
		if _, _, err := db.repo.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}

	storeID := int64(7)
	cursorRow := &Item{ID: 10007, StoreID: 7, PriceCents: 2500, NameKey: "item 10007"}
	seekFor := func(field string, first int, after bool) (listing, seek) {
		l, err := itemListing(ItemFilter{StoreID: &storeID}, Order{Field: field}, PageArgs{First: &first})
		if err != nil {
			t.Fatal(err)
		}
		if after {
			key := itemKeys[map[string]int{"ID": 0, "NAME": 1, "PRICE": 2, "CREATED_AT": 3}[field]]
			c := encodeCursor(key, cursorRow)
			l.page.After = &c
		}
		sk, err := l.resolve()
		if err != nil {
			t.Fatal(err)
		}
		return l, sk
	}

	tests := []struct {
		name      string
		statement func() *statement
		wantIndex string
	}{
		{"a store's items by price after a cursor", func() *statement {
			l, sk := seekFor("PRICE", 20, true)
			return db.pageStatement(l, sk)
		}, "items_store_id_price_cents_id"},
		{"a store's items by name", func() *statement {
			l, sk := seekFor("NAME", 20, false)
			return db.pageStatement(l, sk)
		}, "items_store_id_name_key_id"},
		{"a store's items by id after a cursor", func() *statement {
			l, sk := seekFor("ID", 20, true)
			return db.pageStatement(l, sk)
		}, "items_store_id_id"},
		{"all items by price", func() *statement {
			first := 20
			l := listing{table: "items", columns: itemColumns, keys: itemKeys, order: Order{Field: "PRICE"}, page: PageArgs{First: &first}}
			sk, _ := l.resolve()
			return db.pageStatement(l, sk)
		}, "items_price_cents_id"},
		// ListItemsByStore's listing names no store of its own: the statement joins them.
		{"pages of items for many stores", func() *statement {
			_, sk := seekFor("PRICE", 20, false)
			sk.leading = nil
			return db.pagesByParentStatement(itemsOfStores, []int64{1, 2, 3, 4, 5}, nil, sk)
		}, "items_store_id_price_cents_id"},
		{"items of many stores beyond a cursor", func() *statement {
			l, sk := seekFor("PRICE", 20, true)
			sk.leading = nil
			c, reverse := sk.farSide(l.page)
			return db.beyondByParentStatement(itemsOfStores, []int64{1, 2, 3, 4, 5}, nil, sk, c, reverse)
		}, "items_store_id_price_cents_id"},
		{"pages of stores for many owners", func() *statement {
			first := 20
			l := listing{table: "stores", columns: storeColumns, keys: storeKeys, page: PageArgs{First: &first}}
			sk, _ := l.resolve()
			return db.pagesByParentStatement(storesOfOwners, []int64{1, 2, 3, 4, 5}, nil, sk)
		}, "stores_owner_id_id"},
		{"stores of many owners beyond a cursor", func() *statement {
			first, after := 20, encodeCursor(storeKeys[0], &Store{ID: 2500})
			l := listing{table: "stores", columns: storeColumns, keys: storeKeys, page: PageArgs{First: &first, After: &after}}
			sk, _ := l.resolve()
			c, reverse := sk.farSide(l.page)
			return db.beyondByParentStatement(storesOfOwners, []int64{1, 2, 3, 4, 5}, nil, sk, c, reverse)
		}, "stores_owner_id_id"},
		{"stores by name", func() *statement {
			first := 20
			l := listing{table: "stores", columns: storeColumns, keys: storeKeys, order: Order{Field: "NAME"}, page: PageArgs{First: &first}}
			sk, _ := l.resolve()
			return db.pageStatement(l, sk)
		}, "stores_name_key"},
		{"a user's stores", func() *statement {
			first, owner := 20, int64(7)
			where, err := StoreFilter{OwnerID: &owner}.where()
			if err != nil {
				t.Fatal(err)
			}
			l := listing{table: "stores", columns: storeColumns, keys: storeKeys, page: PageArgs{First: &first}, filter: where}
			sk, _ := l.resolve()
			return db.pageStatement(l, sk)
		}, "stores_owner_id_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.statement()
			rows, err := db.sql.QueryContext(ctx, "EXPLAIN "+st.sql.String(), st.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan strings.Builder
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan.WriteString(line + "\n")
			}
			if !strings.Contains(plan.String(), "Index Scan using "+tt.wantIndex) && !strings.Contains(plan.String(), "Index Only Scan using "+tt.wantIndex) {
				t.Fatalf("plan does not seek %s:\n%s\n%s", tt.wantIndex, st.sql.String(), plan.String())
			}
		})
	}
}

// TestSQLiteNestedPagesSeekEachParent asks SQLite's planner how it runs the statements behind
// nested pages: parent ids outside, each page's rows found by rowid, never a scan of every
// row (which, with the subquery run again per item, made nested reads 15 times slower).
func TestSQLiteNestedPagesSeekEachParent(t *testing.T) {
	ctx := context.Background()
	db := openMigrated(t, storagetest.NewSQLite(t))
	for _, sql := range []string{
		`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20)
		 INSERT INTO stores (name, name_key, created_at, updated_at)
		 SELECT 'Store ' || n, 'store ' || n, '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM g`,
		`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 2000)
		 INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at)
		 SELECT 1 + n % 20, 'Item ' || n, 'item ' || n, n % 500, '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM g`,
		`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20)
		 INSERT INTO users (email, email_key, password_hash, role, created_at, updated_at)
		 SELECT 'u' || n || '@example.com', 'u' || n || '@example.com', 'x', 'USER', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM g`,
		`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 2000)
		 INSERT INTO stores (name, name_key, owner_id, created_at, updated_at)
		 SELECT 'Owned ' || n, 'owned ' || n, 1 + n % 20, '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM g`,
	} {
		if _, _, err := db.repo.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	// The planner may choose differently once it has statistics: check both ways.
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			if _, _, err := db.repo.Exec(ctx, "ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			c      children
			fields []string
		}{
			{itemsOfStores, []string{"ID", "NAME", "PRICE", "CREATED_AT"}},
			{storesOfOwners, []string{"ID", "NAME", "CREATED_AT"}},
		} {
			for _, field := range tc.fields {
				t.Run(fmt.Sprintf("%s by %s analyzed %v", tc.c.what, field, analyzed), func(t *testing.T) {
					first := 20
					l := listing{table: tc.c.table, columns: tc.c.columns, keys: tc.c.keys, order: Order{Field: field}, page: PageArgs{First: &first}}
					sk, err := l.resolve()
					if err != nil {
						t.Fatal(err)
					}
					st := db.pagesByParentStatement(tc.c, []int64{1, 2, 3, 4, 5}, nil, sk)
					rows, err := db.sql.QueryContext(ctx, "EXPLAIN QUERY PLAN "+st.sql.String(), st.args...)
					if err != nil {
						t.Fatal(err)
					}
					defer rows.Close()
					var plan []string
					for rows.Next() {
						var id, parent, unused int
						var detail string
						if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
							t.Fatal(err)
						}
						plan = append(plan, detail)
					}
					joined := strings.Join(plan, "\n")
					if !strings.Contains(joined, "SEARCH c USING INTEGER PRIMARY KEY") || slices.ContainsFunc(plan, func(d string) bool { return strings.HasPrefix(d, "SCAN c") }) {
						t.Fatalf("plan does not look up each page's rows by rowid:\n%s\n%s", st.sql.String(), joined)
					}
				})
			}
		}
	}
}

// TestAStoresDeepPageReadsOnlyItsPage: with one store holding most items and another store's
// items after them, Postgres took id and store_id to be independent: given store_id = 1 and
// a bound on id, it walked the primary key from the cursor and read every later row of the
// other store; given the equality beside a (store_id, id) bound, it read the store from its
// first row. Each page, in every order and direction, must read only a few buffers.
func TestAStoresDeepPageReadsOnlyItsPage(t *testing.T) {
	ctx := context.Background()
	db := openMigrated(t, storagetest.NewPostgres(t))
	for _, sql := range []string{
		`INSERT INTO stores (name, name_key, created_at, updated_at) VALUES ('Big', 'big', now(), now()), ('Next', 'next', now(), now())`,
		`INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at)
		 SELECT CASE WHEN g <= 50000 THEN 1 ELSE 2 END, 'Item ' || lpad(g::text, 6, '0'), 'item ' || lpad(g::text, 6, '0'), g,
		        timestamp '2026-01-01' + g * interval '1 ms', now()
		 FROM generate_series(1, 55000) g`,
		`ANALYZE`,
	} {
		if _, _, err := db.repo.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	big, first, last := int64(1), 20, 20
	cursorRow := &Item{ID: 49980, StoreID: 1, PriceCents: 49980, NameKey: "item 049980", CreatedAt: time.Date(2026, 1, 1, 0, 0, 49, 980e6, time.UTC)}
	for _, key := range itemKeys {
		for _, page := range []struct {
			name string
			args func(cursor string) PageArgs
		}{
			{"after", func(c string) PageArgs { return PageArgs{First: &first, After: &c} }},
			{"before", func(c string) PageArgs { return PageArgs{Last: &last, Before: &c} }},
		} {
			t.Run(key.field+" "+page.name, func(t *testing.T) {
				// The page and the check for rows beyond its cursor, as ListItems sends them.
				l, err := itemListing(ItemFilter{StoreID: &big}, Order{Field: key.field}, page.args(encodeCursor(key, cursorRow)))
				if err != nil {
					t.Fatal(err)
				}
				sk, err := l.resolve()
				if err != nil {
					t.Fatal(err)
				}
				if buffers := explainBuffers(t, db, db.pageStatement(l, sk)); buffers > 30 {
					t.Fatalf("the page read %d buffers, want at most 30", buffers)
				}
			})
		}
	}
}

// explainBuffers runs st under EXPLAIN (ANALYZE, BUFFERS) and returns the buffers its plan's
// top node read.
func explainBuffers(t *testing.T, db *DB, st *statement) int {
	t.Helper()
	rows, err := db.sql.QueryContext(context.Background(), "EXPLAIN (ANALYZE, BUFFERS) "+st.sql.String(), st.args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	buffers := -1
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "Buffers: shared hit=%d", &n); err == nil && buffers < 0 {
			buffers = n
		}
	}
	if buffers < 0 {
		t.Fatalf("no buffer count in the plan:\n%s", plan.String())
	}
	t.Logf("%s\n%s", st.sql.String(), plan.String())
	return buffers
}
