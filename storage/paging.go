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
	// MaxPageSize bounds first and last unless PageArgs.Max says otherwise.
	MaxPageSize = 100
)

// MaxCursorBytes bounds a cursor's length. The longest this server writes (a name of 80
// characters that JSON escapes, under base64) is under 700 bytes; anything longer is not
// one of its cursors, and refusing it before decoding keeps a forged one cheap.
const MaxCursorBytes = 1024

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
	// Max bounds First and Last, and the default page size; zero means MaxPageSize.
	Max int
	// SkipHasNextPage and SkipHasPreviousPage say the caller will not read that flag of the
	// Page. The flag on the far side of the client's cursor (HasPreviousPage after After,
	// HasNextPage before Before) costs a statement of its own, which skipping it leaves out;
	// it is then false.
	SkipHasNextPage, SkipHasPreviousPage bool
}

// Page is one slice of a listing.
type Page[T any] struct {
	Rows            []T
	HasNextPage     bool
	HasPreviousPage bool
	key             sortKey
}

// Cursor is the opaque cursor of Rows[i]. It is encoded on demand: most nested pages are
// read without their cursors.
func (p Page[T]) Cursor(i int) string {
	return encodeCursor(p.key, any(p.Rows[i]).(row))
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
	scanned
	rowID() int64
	sortValue(column string) any
}

// listing is one request for a keyset-paginated table: the table's columns and the orders
// it accepts (keys), and the request's filter, order and page arguments.
type listing struct {
	table   string
	columns string
	keys    []sortKey
	order   Order
	page    PageArgs
	filter  conditions
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
	maxSize := l.page.Max
	if maxSize <= 0 {
		maxSize = MaxPageSize
	}
	var (
		p  problems
		sk = seek{limit: min(DefaultPageSize, maxSize)}
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
		if *n < 0 || *n > maxSize {
			p.add(name, fmt.Sprintf("%s must be between 0 and %d.", name, maxSize))
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

	rows, err := queryRows[T, PT](ctx, db, db.pageStatement(l, sk))
	if err != nil {
		return Page[PT]{}, fmt.Errorf("list %s: %w", l.table, classify(ctx, err))
	}

	// The far side of the cursor the client came from is checked only when there is one (a
	// forward page from the start has nothing before it) and its flag will be read.
	var beyond bool
	if c, reverse := sk.farSide(l.page); c != nil {
		st := db.statement().write("SELECT count(*) AS n FROM (SELECT 1 FROM ", l.table, " WHERE 1=1")
		l.filter.write(st)
		st.write(" AND ", sk.compare(st, c, reverse, true), " LIMIT 1) AS e")
		n, err := db.count(ctx, st.sql.String(), st.args...)
		if err != nil {
			return Page[PT]{}, fmt.Errorf("list %s: %w", l.table, classify(ctx, err))
		}
		beyond = n > 0
	}
	return buildPage[T, PT](rows, sk, beyond), nil
}

// pageStatement selects one page of a listing, plus one row to tell whether more follow.
func (db *DB) pageStatement(l listing, sk seek) *statement {
	st := db.statement().write("SELECT ", l.columns, " FROM ", l.table, " WHERE 1=1")
	l.filter.write(st)
	sk.writeBounds(st)
	st.write(sk.orderBy(""), " LIMIT ", strconv.Itoa(sk.limit+1))
	return st
}

// writeBounds writes the conditions that keep rows strictly between the cursors.
func (sk seek) writeBounds(st *statement) {
	if sk.after != nil {
		st.write(" AND ", sk.compare(st, sk.after, sk.desc, false))
	}
	if sk.before != nil {
		st.write(" AND ", sk.compare(st, sk.before, !sk.desc, false))
	}
}

// orderBy is the ORDER BY clause in scan order: backward pages are read from the end and
// reversed afterwards. qualifier prefixes the columns.
func (sk seek) orderBy(qualifier string) string {
	dir := " ASC"
	if sk.desc != sk.backward {
		dir = " DESC"
	}
	if sk.key.kind == keyID {
		return " ORDER BY " + qualifier + "id" + dir
	}
	return " ORDER BY " + qualifier + sk.key.column + dir + ", " + qualifier + "id" + dir
}

// farSide is the cursor the client paged away from, if any and if args do not skip the flag
// it decides, and the direction in which rows lie beyond it (at it or before an after
// cursor; at it or after a before cursor).
func (sk seek) farSide(args PageArgs) (c *cursor, reverse bool) {
	if sk.backward {
		if args.SkipHasNextPage {
			return nil, false
		}
		return sk.before, sk.desc
	}
	if args.SkipHasPreviousPage {
		return nil, false
	}
	return sk.after, !sk.desc
}

// buildPage turns the scanned rows (at most limit+1, in scan order) into a page in client
// order. A row beyond the limit means more lie ahead in the direction of paging; beyond says
// rows lie on the far side of the client's cursor.
func buildPage[T any, PT interface {
	*T
	row
}](rows []T, sk seek, beyond bool) Page[PT] {
	overflow := len(rows) > sk.limit
	rows = rows[:min(len(rows), sk.limit)]
	if sk.backward {
		slices.Reverse(rows)
	}
	page := Page[PT]{Rows: make([]PT, len(rows)), key: sk.key}
	for i := range rows {
		page.Rows[i] = PT(&rows[i])
	}
	page.HasNextPage, page.HasPreviousPage = overflow, beyond
	if sk.backward {
		page.HasNextPage, page.HasPreviousPage = beyond, overflow
	}
	return page
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
	if len(s) > MaxCursorBytes {
		return nil, errInvalid
	}
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
