package storage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Page sizes for cursor connections.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// SortDirection orders a listing.
type SortDirection string

// The sort directions.
const (
	Ascending  SortDirection = "ASC"
	Descending SortDirection = "DESC"
)

// Order sorts a listing by one of its order fields ("ID", "NAME", …); ties are broken by id
// in the same direction, so the order is total and pages are stable.
type Order struct {
	Field     string
	Direction SortDirection
}

// PageArgs are Relay connection arguments: First/After pages forwards, Last/Before
// backwards. Cursors come from an earlier Page of the same listing and order.
type PageArgs struct {
	First, Last   *int
	After, Before *string
}

// Page is one slice of a listing. Cursors[i] is the opaque cursor of Rows[i].
type Page[T any] struct {
	Rows            []T
	Cursors         []string
	HasNextPage     bool
	HasPreviousPage bool
}

// keyKind is the type of a sort key's values, which decides how cursors carry them.
type keyKind int

const (
	keyID keyKind = iota
	keyString
	keyInt
	keyTime
)

// sortKey is one orderable column of a table.
type sortKey struct {
	field  string // the order field as clients name it
	column string
	kind   keyKind
}

// row is what a listed entity offers to the pager.
type row interface {
	rowID() int64
	sortValue(column string) any
	normalize()
}

// listing is one keyset-paginated query: table, filter, order and page arguments.
type listing struct {
	table  string
	keys   []sortKey
	order  Order
	page   PageArgs
	filter conditions
}

// seek is one resolved page request.
type seek struct {
	key           sortKey
	desc          bool
	limit         int
	backward      bool
	after, before *cursor
}

// resolve checks the page arguments and order, reporting every problem at once.
func (l listing) resolve() (seek, error) {
	var (
		p  problems
		sk = seek{limit: DefaultPageSize}
	)

	field := l.order.Field
	if field == "" {
		field = "ID"
	}
	keyIdx := slices.IndexFunc(l.keys, func(k sortKey) bool { return k.field == field })
	if keyIdx < 0 {
		p.add("orderBy", fmt.Sprintf("Cannot order by %q.", field))
	} else {
		sk.key = l.keys[keyIdx]
	}
	switch l.order.Direction {
	case "", Ascending:
	case Descending:
		sk.desc = true
	default:
		p.add("orderBy", fmt.Sprintf("Unknown sort direction %q.", l.order.Direction))
	}

	checkSize := func(name string, n *int) {
		if n == nil {
			return
		}
		if *n < 0 || *n > MaxPageSize {
			p.add(name, fmt.Sprintf("%s must be between 0 and %d.", name, MaxPageSize))
			return
		}
		sk.limit = *n
	}
	checkSize("first", l.page.First)
	checkSize("last", l.page.Last)
	if l.page.First != nil && l.page.Last != nil {
		p.add("last", "Pass either first or last, not both.")
	}
	sk.backward = l.page.Last != nil

	decode := func(name string, s *string) *cursor {
		if s == nil || keyIdx < 0 {
			return nil
		}
		c, err := decodeCursor(*s, sk.key)
		if err != nil {
			p.add(name, err.Error())
		}
		return c
	}
	sk.after = decode("after", l.page.After)
	sk.before = decode("before", l.page.Before)

	return sk, p.err()
}

// list runs a listing and returns the requested page.
func list[T any, PT interface {
	*T
	row
}](ctx context.Context, db *DB, l listing) (Page[PT], error) {
	sk, err := l.resolve()
	if err != nil {
		return Page[PT]{}, err
	}

	st := db.statement().write("SELECT * FROM ", l.table, " WHERE 1=1")
	l.filter.write(st)
	if sk.after != nil {
		st.write(" AND ", sk.compare(st, sk.after, sk.desc, false))
	}
	if sk.before != nil {
		st.write(" AND ", sk.compare(st, sk.before, !sk.desc, false))
	}
	dir := " ASC"
	if sk.desc != sk.backward {
		dir = " DESC"
	}
	if sk.key.kind == keyID {
		st.write(" ORDER BY id", dir)
	} else {
		st.write(" ORDER BY ", sk.key.column, dir, ", id", dir)
	}
	st.write(" LIMIT ", strconv.Itoa(sk.limit+1))

	var rows []T
	if err := db.repo.FindAll(ctx, &rows, st.query()); err != nil {
		return Page[PT]{}, fmt.Errorf("list %s: %w", l.table, classify(ctx, err))
	}
	overflow := len(rows) > sk.limit
	rows = rows[:min(len(rows), sk.limit)]
	if sk.backward {
		slices.Reverse(rows)
	}

	page := Page[PT]{Rows: make([]PT, len(rows)), Cursors: make([]string, len(rows))}
	for i := range rows {
		r := PT(&rows[i])
		r.normalize()
		page.Rows[i] = r
		page.Cursors[i] = encodeCursor(sk.key, r)
	}

	// The far side of the cursor the client came from is checked only when there is one:
	// a forward page from the start has nothing before it.
	if sk.backward {
		page.HasPreviousPage = overflow
		if sk.before != nil {
			page.HasNextPage, err = db.exists(ctx, l, sk.compare, sk.before, sk.desc)
		}
	} else {
		page.HasNextPage = overflow
		if sk.after != nil {
			page.HasPreviousPage, err = db.exists(ctx, l, sk.compare, sk.after, !sk.desc)
		}
	}
	if err != nil {
		return Page[PT]{}, fmt.Errorf("list %s: %w", l.table, classify(ctx, err))
	}
	return page, nil
}

// exists reports whether any row of the listing lies at c or beyond it: towards larger keys,
// or smaller ones when reverse is true.
func (db *DB) exists(ctx context.Context, l listing, compare func(*statement, *cursor, bool, bool) string, c *cursor, reverse bool) (bool, error) {
	st := db.statement().write("SELECT count(*) AS n FROM (SELECT 1 FROM ", l.table, " WHERE 1=1")
	l.filter.write(st)
	st.write(" AND ", compare(st, c, reverse, true), " LIMIT 1) AS e")
	n, err := db.count(ctx, st.sql.String(), st.args...)
	return n > 0, err
}

// compare writes the condition "row sorts after c" (or before it, when reverse is true,
// which is how descending order and backward seeks are expressed); inclusive admits c itself.
func (sk seek) compare(st *statement, c *cursor, reverse, inclusive bool) string {
	op := ">"
	if reverse {
		op = "<"
	}
	if inclusive {
		op += "="
	}
	if sk.key.kind == keyID {
		return "id " + op + " " + st.arg(c.id)
	}
	return "(" + sk.key.column + ", id) " + op + " (" + st.arg(c.value) + ", " + st.arg(c.id) + ")"
}

// countListing counts a listing's rows, ignoring paging.
func (db *DB) countListing(ctx context.Context, table string, filter conditions) (int, error) {
	st := db.statement().write("SELECT count(*) AS n FROM ", table, " WHERE 1=1")
	filter.write(st)
	n, err := db.count(ctx, st.sql.String(), st.args...)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", table, classify(ctx, err))
	}
	return int(n), nil
}

// cursor is a decoded position in a listing: the sort key's value and the row id.
type cursor struct {
	value any
	id    int64
}

// wireCursor is a cursor as clients hold it, base64url-encoded JSON. The order field is
// part of it so that a cursor from one ordering is refused by another.
type wireCursor struct {
	Field string          `json:"f"`
	Value json.RawMessage `json:"v,omitempty"`
	ID    int64           `json:"i"`
}

func encodeCursor(key sortKey, r row) string {
	wc := wireCursor{Field: key.field, ID: r.rowID()}
	switch v := r.sortValue(key.column).(type) {
	case time.Time:
		wc.Value = strconv.AppendInt(nil, v.UnixMicro(), 10)
	case int64:
		wc.Value = strconv.AppendInt(nil, v, 10)
	case string:
		wc.Value, _ = json.Marshal(v)
	}
	b, _ := json.Marshal(wc)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, key sortKey) (*cursor, error) {
	errInvalid := errors.New("Invalid cursor.")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errInvalid
	}
	var wc wireCursor
	if err := json.Unmarshal(raw, &wc); err != nil || wc.ID <= 0 {
		return nil, errInvalid
	}
	if wc.Field != key.field {
		return nil, fmt.Errorf("Cursor belongs to an order other than %s.", key.field)
	}
	c := &cursor{id: wc.ID}
	switch key.kind {
	case keyID:
		return c, nil
	case keyString:
		var v string
		if err := json.Unmarshal(wc.Value, &v); err != nil || hasControl(v) {
			return nil, errInvalid
		}
		c.value = v
	case keyInt, keyTime:
		var v int64
		if err := json.Unmarshal(wc.Value, &v); err != nil {
			return nil, errInvalid
		}
		c.value = v
		if key.kind == keyTime {
			c.value = time.UnixMicro(v).UTC()
		}
	}
	return c, nil
}
