package e2e

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// row is what the expected orders are computed from: ties are broken by the row id in the
// database, which the global ID carries.
type row struct {
	typeName string
	id       int64
	name     string
	price    float64
	created  time.Time
}

func itemRow(t testing.TB, it Item) row {
	return row{typeName: itemType, id: rowID(t, itemType, it.ID), name: it.Name, price: it.Price,
		created: parseTimestamp(t, "createdAt", it.CreatedAt)}
}

func storeRow(t testing.TB, st Store) row {
	return row{typeName: storeType, id: rowID(t, storeType, st.ID), name: st.Name,
		created: parseTimestamp(t, "createdAt", st.CreatedAt)}
}

// expectedOrder sorts rows by the order field, ties broken by id, everything reversed for
// DESC, and returns their global IDs. An empty field means the default order, ID ASC.
func expectedOrder(rows []row, field, direction string) []string {
	sorted := slices.Clone(rows)
	slices.SortFunc(sorted, func(a, b row) int {
		c := 0
		switch field {
		case "PRICE":
			c = cmp.Compare(a.price, b.price)
		case "NAME":
			c = strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name))
		case "CREATED_AT":
			c = a.created.Compare(b.created)
		}
		if c == 0 {
			c = cmp.Compare(a.id, b.id)
		}
		if direction == "DESC" {
			c = -c
		}
		return c
	})
	ids := make([]string, len(sorted))
	for i, r := range sorted {
		ids[i] = globalID(r.typeName, r.id)
	}
	return ids
}

// pager fetches pages of one listing: base holds its filter and order, the walk adds
// first/after or last/before.
type pager[T any] struct {
	name  string
	fetch func(t testing.TB, args vars) Connection[T]
	id    func(T) string
	base  vars
}

func (p pager[T]) page(t testing.TB, extra vars) Connection[T] {
	t.Helper()
	args := maps.Clone(p.base)
	if args == nil {
		args = vars{}
	}
	maps.Copy(args, extra)
	c := p.fetch(t, args)
	// edges and nodes list the same rows, and the cursors bracket the page.
	ids := p.ids(c)
	if len(c.Edges) != len(ids) {
		t.Fatalf("%s %v: %d edges but %d nodes", p.name, extra, len(c.Edges), len(ids))
	}
	for i, e := range c.Edges {
		if p.id(e.Node) != ids[i] {
			t.Fatalf("%s %v: edge %d is %s but node %d is %s", p.name, extra, i, p.id(e.Node), i, ids[i])
		}
		if e.Cursor == "" {
			t.Fatalf("%s %v: edge %d has an empty cursor", p.name, extra, i)
		}
	}
	var start, end *string
	if n := len(c.Edges); n > 0 {
		start, end = &c.Edges[0].Cursor, &c.Edges[n-1].Cursor
	}
	if !equalPtr(c.PageInfo.StartCursor, start) || !equalPtr(c.PageInfo.EndCursor, end) {
		t.Errorf("%s %v: startCursor %s endCursor %s, want %s and %s (first and last edge)", p.name, extra,
			showPtr(c.PageInfo.StartCursor), showPtr(c.PageInfo.EndCursor), showPtr(start), showPtr(end))
	}
	return c
}

func (p pager[T]) ids(c Connection[T]) []string {
	ids := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		ids[i] = p.id(n)
	}
	return ids
}

func equalPtr(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func showPtr(s *string) string {
	if s == nil {
		return "null"
	}
	return strconv.Quote(*s)
}

// walk pages through the whole listing, forwards with first/after or backwards with
// last/before, and checks every page against want, the listing's ids in order.
func (p pager[T]) walk(t *testing.T, size int, backward bool, want []string) {
	t.Helper()
	var (
		got    []string
		cursor *string
	)
	for page := 0; ; page++ {
		if page > len(want)/max(size, 1)+1 {
			t.Fatalf("%s: still paging after %d pages; got %v so far", p.name, page, got)
		}
		extra := vars{"first": size}
		if backward {
			extra = vars{"last": size}
		}
		if cursor != nil {
			if backward {
				extra["before"] = *cursor
			} else {
				extra["after"] = *cursor
			}
		}
		c := p.page(t, extra)
		ids := p.ids(c)

		seen := len(got)
		n := min(size, len(want)-seen)
		wantPage := want[seen : seen+n]
		if backward {
			wantPage = want[len(want)-seen-n : len(want)-seen]
		}
		more := seen+n < len(want) // rows beyond this page in the walk's direction
		if !slices.Equal(ids, wantPage) {
			t.Fatalf("%s page %d (%v): ids %v, want %v", p.name, page, extra, ids, wantPage)
		}
		pi := c.PageInfo
		wantNext, wantPrev := more, page > 0
		if backward {
			wantNext, wantPrev = page > 0, more
		}
		if pi.HasNextPage != wantNext || pi.HasPreviousPage != wantPrev {
			t.Errorf("%s page %d (%v): hasNextPage %v hasPreviousPage %v, want %v and %v",
				p.name, page, extra, pi.HasNextPage, pi.HasPreviousPage, wantNext, wantPrev)
		}
		if c.TotalCount != len(want) {
			t.Errorf("%s page %d: totalCount %d, want %d", p.name, page, c.TotalCount, len(want))
		}

		if backward {
			got = append(slices.Clone(ids), got...)
			cursor = pi.StartCursor
		} else {
			got = append(got, ids...)
			cursor = pi.EndCursor
		}
		if !more {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: walking gave %v, want %v", p.name, got, want)
	}

	// One step beyond the end is an empty page.
	if cursor != nil {
		extra := vars{"first": size, "after": *cursor}
		wantNext, wantPrev := false, true
		if backward {
			extra = vars{"last": size, "before": *cursor}
			wantNext, wantPrev = true, false
		}
		c := p.page(t, extra)
		if len(c.Nodes) != 0 || c.PageInfo.HasNextPage != wantNext || c.PageInfo.HasPreviousPage != wantPrev {
			t.Errorf("%s beyond the end (%v): nodes %v hasNextPage %v hasPreviousPage %v, want none, %v and %v",
				p.name, extra, p.ids(c), c.PageInfo.HasNextPage, c.PageInfo.HasPreviousPage, wantNext, wantPrev)
		}
	}
}

// around checks, for every row, the page of up to three rows after its cursor and the page
// of up to three rows before it.
func (p pager[T]) around(t *testing.T, want []string) {
	t.Helper()
	all := p.page(t, vars{"first": 100})
	if got := p.ids(all); !slices.Equal(got, want) {
		t.Fatalf("%s first 100: %v, want %v", p.name, got, want)
	}
	for i, e := range all.Edges {
		after := p.page(t, vars{"first": 3, "after": e.Cursor})
		wantAfter := want[i+1 : min(i+4, len(want))]
		if got := p.ids(after); !slices.Equal(got, wantAfter) ||
			after.PageInfo.HasNextPage != (i+4 < len(want)) || !after.PageInfo.HasPreviousPage {
			t.Errorf("%s first 3 after row %d: %v next %v prev %v, want %v next %v prev true", p.name, i,
				got, after.PageInfo.HasNextPage, after.PageInfo.HasPreviousPage, wantAfter, i+4 < len(want))
		}
		before := p.page(t, vars{"last": 3, "before": e.Cursor})
		wantBefore := want[max(i-3, 0):i]
		if got := p.ids(before); !slices.Equal(got, wantBefore) ||
			before.PageInfo.HasPreviousPage != (i-3 > 0) || !before.PageInfo.HasNextPage {
			t.Errorf("%s last 3 before row %d: %v next %v prev %v, want %v next true prev %v", p.name, i,
				got, before.PageInfo.HasNextPage, before.PageInfo.HasPreviousPage, wantBefore, i-3 > 0)
		}
	}
}

func itemID(it Item) string   { return it.ID }
func storeID(st Store) string { return st.ID }

// storeItems fetches store(id).items(...) pages.
func storeItems(s *server, id string) func(testing.TB, vars) Connection[Item] {
	return func(t testing.TB, args vars) Connection[Item] {
		t.Helper()
		args = maps.Clone(args)
		if args == nil {
			args = vars{}
		}
		args["id"] = id
		var d struct {
			Store struct {
				Items Connection[Item] `json:"items"`
			}
		}
		s.OK(t, &d, `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $filter: ItemFilter, $orderBy: ItemOrder) {
			store(id: $id) { items(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) { `+connectionFields(itemFields)+` } } }`, args)
		return d.Store.Items
	}
}

func orderArg(field, direction string) any {
	if field == "" {
		return nil
	}
	if direction == "" {
		return vars{"field": field} // direction defaults to ASC
	}
	return vars{"field": field, "direction": direction}
}

func TestPaginationAcrossTies(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		// 25 items in one store, sharing names and prices in many ways, and a few items
		// elsewhere that no per-store listing may show.
		names := []string{"Bolt", "Nut", "Bolt", "Screw", "Nut", "Bolt", "Washer"}
		prices := []float64{2.5, 2.5, 1, 2.5, 7.25, 1}
		paged := createStore(t, s, "Paged Store")
		other := createStore(t, s, "Other Store")
		var rows, allRows []row
		for i := range 25 {
			r := itemRow(t, createItem(t, s, paged.ID, names[i%len(names)], prices[i%len(prices)]))
			rows = append(rows, r)
			if i%10 == 4 {
				allRows = append(allRows, itemRow(t, createItem(t, s, other.ID, "Bolt", 2.5)))
			}
		}
		allRows = append(allRows, rows...)
		items := func(t testing.TB, a vars) Connection[Item] { return listItems(t, s, a) }

		orders := []struct{ field, direction string }{
			{"", ""}, {"ID", ""}, {"ID", "DESC"},
			{"PRICE", "ASC"}, {"PRICE", "DESC"},
			{"NAME", "ASC"}, {"NAME", "DESC"},
			{"CREATED_AT", "ASC"}, {"CREATED_AT", "DESC"},
		}
		for _, o := range orders {
			want := expectedOrder(rows, o.field, o.direction)
			order := orderArg(o.field, o.direction)
			pagers := []pager[Item]{
				{name: "items(storeId)", fetch: items, id: itemID,
					base: vars{"filter": vars{"storeId": paged.ID}, "orderBy": order}},
				{name: "store.items", fetch: storeItems(s, paged.ID), id: itemID, base: vars{"orderBy": order}},
			}
			for _, p := range pagers {
				t.Run(fmt.Sprintf("%s %s %s", p.name, cmp.Or(o.field, "default"), o.direction), func(t *testing.T) {
					for _, size := range []int{7, 5} {
						p.walk(t, size, false, want)
						p.walk(t, size, true, want)
					}
				})
			}
		}

		t.Run("single steps", func(t *testing.T) {
			p := pager[Item]{name: "items PRICE DESC", fetch: items, id: itemID,
				base: vars{"filter": vars{"storeId": paged.ID}, "orderBy": orderArg("PRICE", "DESC")}}
			want := expectedOrder(rows, "PRICE", "DESC")
			p.walk(t, 1, false, want)
			p.walk(t, 1, true, want)
		})

		for _, o := range []struct{ field, direction string }{{"PRICE", "ASC"}, {"NAME", "DESC"}} {
			t.Run("around every cursor "+o.field+" "+o.direction, func(t *testing.T) {
				p := pager[Item]{name: "items " + o.field + " " + o.direction, fetch: items, id: itemID,
					base: vars{"filter": vars{"storeId": paged.ID}, "orderBy": orderArg(o.field, o.direction)}}
				p.around(t, expectedOrder(rows, o.field, o.direction))
			})
		}

		t.Run("all items", func(t *testing.T) {
			p := pager[Item]{name: "items", fetch: items, id: itemID,
				base: vars{"orderBy": orderArg("PRICE", "ASC")}}
			want := expectedOrder(allRows, "PRICE", "ASC")
			p.walk(t, 8, false, want)
			p.walk(t, 8, true, want)
		})

		t.Run("default page size is 20", func(t *testing.T) {
			wantIDs := expectedOrder(rows, "", "")
			for _, tc := range []struct {
				name  string
				fetch func(testing.TB, vars) Connection[Item]
				args  vars
				want  []string
			}{
				{"items", items, vars{}, expectedOrder(allRows, "", "")},
				{"items(storeId)", items, vars{"filter": vars{"storeId": paged.ID}}, wantIDs},
				{"store.items", storeItems(s, paged.ID), vars{}, wantIDs},
			} {
				t.Run(tc.name, func(t *testing.T) {
					c := tc.fetch(t, tc.args)
					if got := itemIDs(c.Nodes); !slices.Equal(got, tc.want[:20]) {
						t.Errorf("ids %v, want %v", got, tc.want[:20])
					}
					if !c.PageInfo.HasNextPage || c.PageInfo.HasPreviousPage || c.TotalCount != len(tc.want) {
						t.Errorf("pageInfo %+v totalCount %d, want next, no previous, totalCount %d", c.PageInfo, c.TotalCount, len(tc.want))
					}
					args := maps.Clone(tc.args)
					args["last"] = 100
					last := tc.fetch(t, args)
					if got := itemIDs(last.Nodes); !slices.Equal(got, tc.want) {
						t.Errorf("last 100: %v, want %v", got, tc.want)
					}
				})
			}
		})

		t.Run("first 0 is an empty page", func(t *testing.T) {
			c := listItems(t, s, vars{"first": 0, "filter": vars{"storeId": paged.ID}})
			if len(c.Nodes) != 0 || len(c.Edges) != 0 || c.PageInfo.StartCursor != nil || c.PageInfo.EndCursor != nil || c.TotalCount != 25 {
				t.Errorf("first 0: nodes %v pageInfo %+v totalCount %d, want no nodes, null cursors, totalCount 25", itemIDs(c.Nodes), c.PageInfo, c.TotalCount)
			}
		})
	})
}

func TestStorePagination(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		// Names are created out of order, in mixed case, so that no two orders agree.
		rng := rand.New(rand.NewPCG(1, 2))
		var rows []row
		for _, i := range rng.Perm(25) {
			name := fmt.Sprintf("Shop %02d", i)
			if i%3 == 0 {
				name = strings.ToLower(name)
			}
			rows = append(rows, storeRow(t, createStore(t, s, name)))
		}

		p := pager[Store]{name: "stores", fetch: func(t testing.TB, a vars) Connection[Store] { return listStores(t, s, a) }, id: storeID}
		for _, o := range []struct{ field, direction string }{
			{"", ""}, {"ID", "DESC"}, {"NAME", "ASC"}, {"NAME", "DESC"}, {"CREATED_AT", "ASC"}, {"CREATED_AT", "DESC"},
		} {
			t.Run(cmp.Or(o.field, "default")+" "+o.direction, func(t *testing.T) {
				p := p
				p.base = vars{"orderBy": orderArg(o.field, o.direction)}
				want := expectedOrder(rows, o.field, o.direction)
				p.walk(t, 7, false, want)
				p.walk(t, 7, true, want)
			})
		}

		t.Run("default page size is 20", func(t *testing.T) {
			want := expectedOrder(rows, "", "")
			c := listStores(t, s, nil)
			if got := storeIDs(c.Nodes); !slices.Equal(got, want[:20]) {
				t.Errorf("ids %v, want %v", got, want[:20])
			}
			if !c.PageInfo.HasNextPage || c.PageInfo.HasPreviousPage || c.TotalCount != 25 {
				t.Errorf("pageInfo %+v totalCount %d, want next, no previous, totalCount 25", c.PageInfo, c.TotalCount)
			}
		})
	})
}

func TestConnectionArgumentErrors(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		st := createStore(t, s, "Argument Errors")
		for _, price := range []float64{3, 1, 2} {
			createItem(t, s, st.ID, "Arg", price)
		}
		priceCursor := *listItems(t, s, vars{"first": 1, "orderBy": orderArg("PRICE", "ASC")}).PageInfo.EndCursor
		nameCursor := *listStores(t, s, vars{"first": 1, "orderBy": orderArg("NAME", "ASC")}).PageInfo.EndCursor
		b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
		b64url := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

		listings := []struct {
			name, query string
			extra       vars
		}{
			{"items", `query($first: Int, $after: String, $last: Int, $before: String, $orderBy: ItemOrder) {
				items(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) { totalCount } }`, nil},
			{"stores", `query($first: Int, $after: String, $last: Int, $before: String) {
				stores(first: $first, after: $after, last: $last, before: $before) { totalCount } }`, nil},
			{"store.items", `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $orderBy: ItemOrder) {
				store(id: $id) { items(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) { totalCount } } }`, vars{"id": st.ID}},
		}
		for _, l := range listings {
			t.Run(l.name, func(t *testing.T) {
				for _, tc := range []struct {
					name   string
					args   vars
					fields []string // the fields the error may name
				}{
					{"first above 100", vars{"first": 101}, []string{"first"}},
					{"first negative", vars{"first": -1}, []string{"first"}},
					{"last above 100", vars{"last": 101}, []string{"last"}},
					{"last negative", vars{"last": -1}, []string{"last"}},
					{"first and last", vars{"first": 1, "last": 1}, []string{"first", "last"}},
					{"after garbage", vars{"after": "garbage"}, []string{"after"}},
					{"before garbage", vars{"before": "garbage"}, []string{"before"}},
					{"after base64 of other JSON", vars{"after": b64(`{"hello":"world"}`)}, []string{"after"}},
					{"after base64url of other JSON", vars{"after": b64url(`{"hello":"world","n":[1,2,3]}`)}, []string{"after"}},
					{"before base64 of a JSON array", vars{"before": b64url(`[1,2,3]`)}, []string{"before"}},
					{"before base64 of a JSON string", vars{"before": b64(`"cursor"`)}, []string{"before"}},
				} {
					t.Run(tc.name, func(t *testing.T) {
						args := maps.Clone(tc.args)
						maps.Copy(args, l.extra)
						r := s.Do(t, l.query, args)
						// first and last together may be reported on either or on both.
						ok := len(r.Errors) >= 1 && len(r.Errors) <= len(tc.fields)
						for _, e := range r.Errors {
							ok = ok && e.Extensions.Code == "BAD_USER_INPUT" && slices.Contains(tc.fields, e.Extensions.Field)
						}
						if !ok {
							t.Errorf("errors %v, want BAD_USER_INPUT on %s", r.Errors, strings.Join(tc.fields, " or "))
						}
					})
				}
			})
		}

		t.Run("a cursor of another order", func(t *testing.T) {
			for _, tc := range []struct {
				name, query string
				vars        vars
				field       string
			}{
				{"items PRICE cursor with NAME order", `query($c: String) { items(after: $c, orderBy: {field: NAME}) { totalCount } }`, vars{"c": priceCursor}, "after"},
				{"items PRICE cursor with default order", `query($c: String) { items(last: 2, before: $c) { totalCount } }`, vars{"c": priceCursor}, "before"},
				{"stores NAME cursor with CREATED_AT order", `query($c: String) { stores(after: $c, orderBy: {field: CREATED_AT, direction: DESC}) { totalCount } }`, vars{"c": nameCursor}, "after"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					wantError(t, s.Do(t, tc.query, tc.vars), "BAD_USER_INPUT", tc.field, "")
				})
			}
		})

		t.Run("limits are inclusive", func(t *testing.T) {
			for _, args := range []vars{{"first": 100}, {"last": 100}, {"first": 0}, {"last": 0}} {
				c := listItems(t, s, args)
				if c.TotalCount != 3 {
					t.Errorf("%v: totalCount %d, want 3", args, c.TotalCount)
				}
			}
		})
	})
}
