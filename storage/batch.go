package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The batch reads below serve one GraphQL request's nested fields for many parents in one
// statement each, whatever the number of parents.

// inSet writes "column is one of ids" so that the statement text does not depend on the
// number of ids: Postgres binds an array, SQLite a JSON array. Both keep one prepared
// statement for every batch size, where a growing IN (…) list would not.
func (st *statement) inSet(column string, ids []int64) string {
	if st.dialect == Postgres {
		return column + " = ANY(" + st.arg(ids) + ")"
	}
	return column + " IN (SELECT value FROM json_each(" + st.arg(jsonIDs(ids)) + "))"
}

// idTable writes ids as a table s with one row per id in its column sid, bound the same
// way as inSet.
func (st *statement) idTable(ids []int64) {
	if st.dialect == Postgres {
		st.write("unnest(", st.arg(ids), "::bigint[]) AS s(sid)")
		return
	}
	st.write("(SELECT value AS sid FROM json_each(", st.arg(jsonIDs(ids)), ")) AS s")
}

func jsonIDs(ids []int64) string {
	if ids == nil {
		ids = []int64{} // an empty array, where a nil slice would marshal as null
	}
	b, _ := json.Marshal(ids) // a []int64 always marshals
	return string(b)
}

// GetStores returns the stores with the given ids, by id; ids with no store are absent.
func (db *DB) GetStores(ctx context.Context, ids []int64) (map[int64]*Store, error) {
	return getByIDs[Store](ctx, db, "stores", storeColumns, ids)
}

// GetItems returns the items with the given ids, by id; ids with no item are absent.
func (db *DB) GetItems(ctx context.Context, ids []int64) (map[int64]*Item, error) {
	return getByIDs[Item](ctx, db, "items", itemColumns, ids)
}

// getByIDs reads the rows of table with the given ids in one statement.
func getByIDs[T any, PT interface {
	*T
	scanned
	rowID() int64
}](ctx context.Context, db *DB, table, columns string, ids []int64) (map[int64]PT, error) {
	st := db.statement()
	st.write("SELECT ", columns, " FROM ", table, " WHERE ", st.inSet("id", ids))
	rows, err := queryRows[T, PT](ctx, db, st)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", table, classify(ctx, err))
	}
	out := make(map[int64]PT, len(rows))
	for i := range rows {
		r := PT(&rows[i])
		out[r.rowID()] = r
	}
	return out, nil
}

// ListItemsByStore returns, for each store id, the page that ListItems would return with
// filter.StoreID set to that id; filter.StoreID itself is ignored. The pages come from one
// statement, whatever the number of stores. A store with no items gets an empty page.
func (db *DB) ListItemsByStore(ctx context.Context, storeIDs []int64, filter ItemFilter, order Order, page PageArgs) (map[int64]Page[*Item], error) {
	filter.StoreID = nil
	where, err := filter.where()
	if err != nil {
		return nil, err
	}
	l := listing{table: "items", columns: itemColumns, keys: itemKeys, order: order, page: page, filter: where}
	sk, err := l.resolve()
	if err != nil {
		return nil, err
	}

	rows, err := queryRows[Item](ctx, db, db.pagesByStoreStatement(storeIDs, where, sk))
	if err != nil {
		return nil, fmt.Errorf("list items by store: %w", classify(ctx, err))
	}

	beyond := map[int64]bool{}
	if c, reverse := sk.farSide(page); c != nil {
		var found []storeCount
		if err := db.repo.FindAll(ctx, &found, db.beyondByStoreStatement(storeIDs, where, sk, c, reverse).query()); err != nil {
			return nil, fmt.Errorf("list items by store: %w", classify(ctx, err))
		}
		for _, f := range found {
			beyond[f.StoreID] = true
		}
	}

	// The rows come ordered by store: each store's are one run.
	byStore := map[int64][]Item{}
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].StoreID == rows[start].StoreID {
			end++
		}
		byStore[rows[start].StoreID] = rows[start:end]
		start = end
	}
	pages := make(map[int64]Page[*Item], len(storeIDs))
	for _, id := range storeIDs {
		pages[id] = buildPage[Item](byStore[id], sk, beyond[id])
	}
	return pages, nil
}

// pagesByStoreStatement selects a page of items for each store in one statement.
func (db *DB) pagesByStoreStatement(storeIDs []int64, where conditions, sk seek) *statement {
	st := db.statement()
	if db.dialect == Postgres {
		// A lateral subquery per store seeks that store's (store_id, key, id) index and stops
		// after one page, however many items the store has.
		st.write("SELECT i.* FROM ")
		st.idTable(storeIDs)
		st.write(" CROSS JOIN LATERAL (SELECT ", itemColumns, " FROM items WHERE store_id = s.sid")
		where.write(st)
		sk.writeBounds(st)
		st.write(sk.orderBy(""), " LIMIT ", strconv.Itoa(sk.limit+1), ") AS i ORDER BY i.store_id, ",
			strings.TrimPrefix(sk.orderBy("i."), " ORDER BY "))
		return st
	}
	// SQLite has no LATERAL. A correlated IN (… LIMIT) runs once per store and seeks the same
	// index for one page's ids; numbering every matching row with row_number() would read
	// each store's items to the end. CROSS JOIN is SQLite's way to fix the join order: store
	// ids outside, items looked up by rowid. Left to choose, the planner scanned every item
	// and ran the subquery again for each (bench/run's nested scenario fell to 4 req/s).
	st.write("SELECT ", qualify("i.", itemColumns), " FROM ")
	st.idTable(storeIDs)
	st.write(" CROSS JOIN items i WHERE i.id IN (SELECT id FROM items WHERE store_id = s.sid")
	where.write(st)
	sk.writeBounds(st)
	st.write(sk.orderBy(""), " LIMIT ", strconv.Itoa(sk.limit+1), ") ORDER BY i.store_id, ",
		strings.TrimPrefix(sk.orderBy("i."), " ORDER BY "))
	return st
}

// qualify prefixes every column of a column list with qualifier.
func qualify(qualifier, columns string) string {
	return qualifier + strings.ReplaceAll(columns, ", ", ", "+qualifier)
}

// beyondByStoreStatement selects the stores with at least one item on the far side of cursor
// c: one probe of the store's index each, so that a cursor deep into a large store costs
// what one near its start does (a count would read every row up to the cursor).
func (db *DB) beyondByStoreStatement(storeIDs []int64, where conditions, sk seek, c *cursor, reverse bool) *statement {
	st := db.statement().write("SELECT s.sid AS store_id, 1 AS n FROM ")
	st.idTable(storeIDs)
	st.write(" WHERE EXISTS (SELECT 1 FROM items WHERE store_id = s.sid")
	where.write(st)
	st.write(" AND ", sk.compare(st, c, reverse, true), ")")
	return st
}

// storeCount is one row of a count grouped by store.
type storeCount struct {
	StoreID int64 `db:"store_id"`
	N       int   `db:"n"`
}

// CountItemsByStore counts, for each store id, the items that match filter in that store;
// filter.StoreID is ignored. One grouped COUNT serves all stores.
func (db *DB) CountItemsByStore(ctx context.Context, storeIDs []int64, filter ItemFilter) (map[int64]int, error) {
	filter.StoreID = nil
	where, err := filter.where()
	if err != nil {
		return nil, err
	}
	st := db.statement()
	st.write("SELECT store_id, count(*) AS n FROM items WHERE ", st.inSet("store_id", storeIDs))
	where.write(st)
	st.write(" GROUP BY store_id")
	var rows []storeCount
	if err := db.repo.FindAll(ctx, &rows, st.query()); err != nil {
		return nil, fmt.Errorf("count items by store: %w", classify(ctx, err))
	}
	counts := make(map[int64]int, len(storeIDs))
	for _, id := range storeIDs {
		counts[id] = 0
	}
	for _, r := range rows {
		counts[r.StoreID] = r.N
	}
	return counts, nil
}
