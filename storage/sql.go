package storage

import (
	"context"
	"strconv"
	"strings"

	"github.com/go-rel/rel"
)

// statement builds one SQL statement with the placeholders of its dialect. REL writes
// fragments verbatim, so listings with row-value comparisons, escaped LIKE patterns and
// dialect-specific SQL are assembled here and handed to REL as rel.SQL.
type statement struct {
	dialect Dialect
	sql     strings.Builder
	args    []any
}

func (db *DB) statement() *statement { return &statement{dialect: db.dialect} }

// write appends SQL text.
func (s *statement) write(parts ...string) *statement {
	for _, p := range parts {
		s.sql.WriteString(p)
	}
	return s
}

// arg records a bound value and returns its placeholder.
func (s *statement) arg(v any) string {
	s.args = append(s.args, v)
	if s.dialect == Postgres {
		return "$" + strconv.Itoa(len(s.args))
	}
	return "?"
}

func (s *statement) query() rel.Querier { return rel.SQL(s.sql.String(), s.args...) }

// exec runs a statement that returns no rows, inside the write ctx carries if any, and
// reports how many rows it changed.
func (db *DB) exec(ctx context.Context, st *statement) (int, error) {
	_, n, err := db.repo.Exec(ctx, st.sql.String(), st.args...)
	return n, err
}

// countRow receives the single "n" column of a COUNT statement.
type countRow struct {
	N int64 `db:"n"`
}

// count runs a statement that selects one row with one column named n.
func (db *DB) count(ctx context.Context, sql string, args ...any) (int64, error) {
	var rows []countRow
	if err := db.repo.FindAll(ctx, &rows, rel.SQL(sql, args...)); err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		return 0, nil
	}
	return rows[0].N, nil
}

// likeContains returns a LIKE pattern matching values that contain needle literally.
// Used with ESCAPE '\'.
func likeContains(needle string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(needle) + "%"
}

// conditions are the WHERE clauses of a listing, each written as " AND …"; they are
// replayed into every statement of the listing (page, neighbour check, count).
type conditions []func(*statement)

func (c *conditions) add(f func(*statement)) { *c = append(*c, f) }

func (c conditions) write(st *statement) {
	for _, f := range c {
		f(st)
	}
}
