package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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
	return pagesByParent[Item](ctx, db, itemsOfStores, storeIDs, where, order, page)
}

// ListStoresByOwner returns, for each user id, the page that ListStores would return with
// filter.OwnerID set to that id; filter.OwnerID itself is ignored. The pages come from one
// statement, whatever the number of users. A user without stores gets an empty page.
func (db *DB) ListStoresByOwner(ctx context.Context, ownerIDs []int64, filter StoreFilter, order Order, page PageArgs) (map[int64]Page[*Store], error) {
	filter.OwnerID = nil
	where, err := filter.where()
	if err != nil {
		return nil, err
	}
	return pagesByParent[Store](ctx, db, storesOfOwners, ownerIDs, where, order, page)
}

// children is a table whose rows are read a page per parent: the parent's id is in the
// column parent, which leads an index for each of the table's orders (keys).
type children struct {
	table, columns, parent string
	keys                   []sortKey
	what                   string // for errors: "items by store"
}

var (
	itemsOfStores  = children{table: "items", columns: itemColumns, parent: "store_id", keys: itemKeys, what: "items by store"}
	storesOfOwners = children{table: "stores", columns: storeColumns, parent: "owner_id", keys: storeKeys, what: "stores by owner"}
)

// child is a row of children: it names its parent.
type child interface {
	row
	parentID() int64
}

// pagesByParent reads a page of c for each parent in parentIDs, in one statement (two when
// the far side of a cursor is asked for).
func pagesByParent[T any, PT interface {
	*T
	child
}](ctx context.Context, db *DB, c children, parentIDs []int64, where conditions, order Order, page PageArgs) (map[int64]Page[PT], error) {
	// Each parent once: a parent named twice would have its rows twice in its run.
	parentIDs = slices.Compact(slices.Sorted(slices.Values(parentIDs)))
	l := listing{table: c.table, columns: c.columns, keys: c.keys, order: order, page: page, filter: where}
	sk, err := l.resolve()
	if err != nil {
		return nil, err
	}

	rows, err := queryRows[T, PT](ctx, db, db.pagesByParentStatement(c, parentIDs, where, sk))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", c.what, classify(ctx, err))
	}

	beyond := map[int64]bool{}
	if cur, reverse := sk.farSide(page); cur != nil {
		var found []parentCount
		if err := db.repo.FindAll(ctx, &found, db.beyondByParentStatement(c, parentIDs, where, sk, cur, reverse).query()); err != nil {
			return nil, fmt.Errorf("list %s: %w", c.what, classify(ctx, err))
		}
		for _, f := range found {
			beyond[f.ParentID] = true
		}
	}

	// The rows come ordered by parent: each parent's are one run.
	byParent := map[int64][]T{}
	for start := 0; start < len(rows); {
		parent := PT(&rows[start]).parentID()
		end := start + 1
		for end < len(rows) && PT(&rows[end]).parentID() == parent {
			end++
		}
		byParent[parent] = rows[start:end]
		start = end
	}
	pages := make(map[int64]Page[PT], len(parentIDs))
	for _, id := range parentIDs {
		pages[id] = buildPage[T, PT](byParent[id], sk, beyond[id])
	}
	return pages, nil
}

// pagesByParentStatement selects a page of c for each parent in one statement.
func (db *DB) pagesByParentStatement(c children, parentIDs []int64, where conditions, sk seek) *statement {
	st := db.statement()
	if db.dialect == Postgres {
		// A lateral subquery per parent seeks that parent's (parent, key, id) index and stops
		// after one page, however many rows the parent has.
		st.write("SELECT c.* FROM ")
		st.idTable(parentIDs)
		st.write(" CROSS JOIN LATERAL (SELECT ", c.columns, " FROM ", c.table, " WHERE ", c.parent, " = s.sid")
		where.write(st)
		sk.writeBounds(st)
		st.write(sk.orderBy(""), " LIMIT ", strconv.Itoa(sk.limit+1), ") AS c ORDER BY c.", c.parent, ", ",
			strings.TrimPrefix(sk.orderBy("c."), " ORDER BY "))
		return st
	}
	// SQLite has no LATERAL. A correlated IN (… LIMIT) runs once per parent and seeks the
	// same index for one page's ids; numbering every matching row with row_number() would
	// read each parent's rows to the end. CROSS JOIN is SQLite's way to fix the join order:
	// parent ids outside, rows looked up by rowid. Left to choose, the planner scanned every
	// item and ran the subquery again for each (bench/run's nested scenario fell to 4 req/s).
	st.write("SELECT ", qualify("c.", c.columns), " FROM ")
	st.idTable(parentIDs)
	st.write(" CROSS JOIN ", c.table, " c WHERE c.id IN (SELECT id FROM ", c.table, " WHERE ", c.parent, " = s.sid")
	where.write(st)
	sk.writeBounds(st)
	st.write(sk.orderBy(""), " LIMIT ", strconv.Itoa(sk.limit+1), ") ORDER BY c.", c.parent, ", ",
		strings.TrimPrefix(sk.orderBy("c."), " ORDER BY "))
	return st
}

// qualify prefixes every column of a column list with qualifier.
func qualify(qualifier, columns string) string {
	return qualifier + strings.ReplaceAll(columns, ", ", ", "+qualifier)
}

// beyondByParentStatement selects the parents with at least one row on the far side of
// cursor cur: one probe of the parent's index each, so that a cursor deep into a large parent
// costs what one near its start does (a count would read every row up to the cursor).
func (db *DB) beyondByParentStatement(c children, parentIDs []int64, where conditions, sk seek, cur *cursor, reverse bool) *statement {
	st := db.statement().write("SELECT s.sid AS parent_id, 1 AS n FROM ")
	st.idTable(parentIDs)
	st.write(" WHERE EXISTS (SELECT 1 FROM ", c.table, " WHERE ", c.parent, " = s.sid")
	where.write(st)
	st.write(" AND ", sk.compare(st, cur, reverse, true), ")")
	return st
}

// parentCount is one row of a count grouped by parent.
type parentCount struct {
	ParentID int64 `db:"parent_id"`
	N        int   `db:"n"`
}

// CountItemsByStore counts, for each store id, the items that match filter in that store;
// filter.StoreID is ignored. One grouped COUNT serves all stores.
func (db *DB) CountItemsByStore(ctx context.Context, storeIDs []int64, filter ItemFilter) (map[int64]int, error) {
	filter.StoreID = nil
	where, err := filter.where()
	if err != nil {
		return nil, err
	}
	return countByParent(ctx, db, itemsOfStores, storeIDs, where)
}

// CountStoresByOwner counts, for each user id, the stores that match filter among that
// user's; filter.OwnerID is ignored. One grouped COUNT serves all users.
func (db *DB) CountStoresByOwner(ctx context.Context, ownerIDs []int64, filter StoreFilter) (map[int64]int, error) {
	filter.OwnerID = nil
	where, err := filter.where()
	if err != nil {
		return nil, err
	}
	return countByParent(ctx, db, storesOfOwners, ownerIDs, where)
}

// countByParent counts, for each parent, its rows of c that match where; 0 for none.
func countByParent(ctx context.Context, db *DB, c children, parentIDs []int64, where conditions) (map[int64]int, error) {
	st := db.statement()
	st.write("SELECT ", c.parent, " AS parent_id, count(*) AS n FROM ", c.table, " WHERE ", st.inSet(c.parent, parentIDs))
	where.write(st)
	st.write(" GROUP BY ", c.parent)
	var rows []parentCount
	if err := db.repo.FindAll(ctx, &rows, st.query()); err != nil {
		return nil, fmt.Errorf("count %s: %w", c.what, classify(ctx, err))
	}
	counts := make(map[int64]int, len(parentIDs))
	for _, id := range parentIDs {
		counts[id] = 0
	}
	for _, r := range rows {
		counts[r.ParentID] = r.N
	}
	return counts, nil
}
