package storage

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-rel/rel"
)

// Price limits, in cents.
const (
	MaxPriceCents = 9_999_999_999 // 99,999,999.99
)

// Item is something a store sells.
type Item struct {
	ID         int64     `db:"id"`
	StoreID    int64     `db:"store_id"`
	Name       string    `db:"name"`
	NameKey    string    `db:"name_key"`
	PriceCents int64     `db:"price_cents"`
	CreatedAt  time.Time `db:"created_at"`
	UpdatedAt  time.Time `db:"updated_at"`
}

// Table tells REL where items live.
func (Item) Table() string { return "items" }

// Price is the price in currency units. Dividing whole cents by 100 yields the float64
// nearest the decimal price, so 1799 reads back as exactly 17.99.
func (i *Item) Price() float64 { return float64(i.PriceCents) / 100 }

func (i *Item) rowID() int64 { return i.ID }

func (i *Item) parentID() int64 { return i.StoreID }

func (i *Item) sortValue(column string) any {
	switch column {
	case "name_key":
		return i.NameKey
	case "price_cents":
		return i.PriceCents
	case "created_at":
		return i.CreatedAt
	}
	return i.ID
}

func (i *Item) normalize() {
	i.CreatedAt, i.UpdatedAt = i.CreatedAt.UTC(), i.UpdatedAt.UTC()
}

// itemKeys are the orders an item listing accepts.
var itemKeys = []sortKey{
	{field: "ID", column: "id", kind: keyID},
	{field: "NAME", column: "name_key", kind: keyString},
	{field: "PRICE", column: "price_cents", kind: keyInt},
	{field: "CREATED_AT", column: "created_at", kind: keyTime},
}

// ItemInput is a new item.
type ItemInput struct {
	Name    string
	Price   float64
	StoreID int64
}

// ItemPatch changes the fields of an item that are not nil.
type ItemPatch struct {
	Name    *string
	Price   *float64
	StoreID *int64
}

// ItemFilter narrows an item listing; nil fields do not filter.
type ItemFilter struct {
	StoreID      *int64
	NameContains *string
	MinPrice     *float64
	MaxPrice     *float64
}

func (f ItemFilter) where() (conditions, error) {
	var (
		p problems
		c conditions
	)
	if f.StoreID != nil {
		id := *f.StoreID
		c.add(func(st *statement) { st.write(" AND store_id = ", st.arg(id)) })
	}
	c.nameContains(&p, "nameContains", f.NameContains)
	// Bounds are compared in cents, rounded inwards: minPrice 1.001 admits 1.01 and up.
	if f.MinPrice != nil {
		if cents, ok := boundCents(&p, "minPrice", *f.MinPrice, math.Ceil); ok {
			c.add(func(st *statement) { st.write(" AND price_cents >= ", st.arg(cents)) })
		}
	}
	if f.MaxPrice != nil {
		if cents, ok := boundCents(&p, "maxPrice", *f.MaxPrice, math.Floor); ok {
			c.add(func(st *statement) { st.write(" AND price_cents <= ", st.arg(cents)) })
		}
	}
	return c, p.err()
}

func boundCents(p *problems, field string, price float64, round func(float64) float64) (int64, bool) {
	if math.IsNaN(price) || math.IsInf(price, 0) {
		p.add(field, fmt.Sprintf("%s must be a finite number.", field))
		return 0, false
	}
	cents := price * 100
	if r := math.Round(cents); math.Abs(cents-r) < 1e-6 {
		cents = r // 17.99*100 is 1798.9999999999998: a whole number of cents all the same
	} else {
		cents = round(cents)
	}
	// Beyond the price range every bound behaves like the range's edge; clamping keeps
	// the conversion to int64 exact.
	return int64(math.Max(-1, math.Min(cents, MaxPriceCents+1))), true
}

// cleanPrice checks a price and converts it to cents.
func cleanPrice(p *problems, field string, price float64) int64 {
	switch {
	case math.IsNaN(price) || math.IsInf(price, 0):
		p.add(field, "Price must be a finite number.")
	case price < 0 || price*100 > MaxPriceCents:
		p.add(field, "Price must be between 0 and 99999999.99.")
	case decimalPlaces(price) > 2:
		p.add(field, "Price must have at most two decimal places.")
	default:
		return int64(math.Round(price * 100))
	}
	return 0
}

// decimalPlaces counts the digits after the point in the shortest decimal that reads back
// as price: 17.99 has two, although its binary value is not exactly 17.99.
func decimalPlaces(price float64) int {
	s := strconv.FormatFloat(price, 'f', -1, 64)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// Validate checks a new item's fields, reporting every problem.
func (in ItemInput) Validate() error {
	_, err := in.clean()
	return err
}

func (in ItemInput) clean() (Item, error) {
	var p problems
	name := cleanName(&p, "name", in.Name)
	cents := cleanPrice(&p, "price", in.Price)
	return Item{StoreID: in.StoreID, Name: name, NameKey: nameKey(name), PriceCents: cents}, p.err()
}

// Validate checks the fields a patch sets, reporting every problem.
func (pt ItemPatch) Validate() error {
	var p problems
	if pt.Name != nil {
		cleanName(&p, "name", *pt.Name)
	}
	if pt.Price != nil {
		cleanPrice(&p, "price", *pt.Price)
	}
	return p.err()
}

// apply writes a validated patch onto an item; it reports whether anything changed.
func (pt ItemPatch) apply(it *Item) bool {
	var p problems // already checked by Validate
	before := *it
	if pt.Name != nil {
		it.Name = cleanName(&p, "name", *pt.Name)
		it.NameKey = nameKey(it.Name)
	}
	if pt.Price != nil {
		it.PriceCents = cleanPrice(&p, "price", *pt.Price)
	}
	if pt.StoreID != nil {
		it.StoreID = *pt.StoreID
	}
	return *it != before
}

// GetItem returns the item with the given id, or a *NotFoundError.
func (db *DB) GetItem(ctx context.Context, id int64) (*Item, error) {
	return getByID[Item](ctx, db, "items", itemColumns, id, errItemNotFound)
}

// ListItems returns one page of items.
func (db *DB) ListItems(ctx context.Context, filter ItemFilter, order Order, page PageArgs) (Page[*Item], error) {
	l, err := itemListing(filter, order, page)
	if err != nil {
		return Page[*Item]{}, err
	}
	return list[Item](ctx, db, l)
}

// itemListing is the listing ListItems reads. Of a store's items, the listing writes the
// store condition itself, into its cursor bounds, as the (store_id, key, id) indexes have it
// (see seek.compare).
func itemListing(filter ItemFilter, order Order, page PageArgs) (listing, error) {
	l := listing{table: "items", columns: itemColumns, keys: itemKeys, order: order, page: page}
	if filter.StoreID != nil {
		l.leading = &fixedColumn{"store_id", *filter.StoreID}
		filter.StoreID = nil
	}
	var err error
	l.filter, err = filter.where()
	return l, err
}

// CountItems counts the items that match filter.
func (db *DB) CountItems(ctx context.Context, filter ItemFilter) (int, error) {
	where, err := filter.where()
	if err != nil {
		return 0, err
	}
	return db.countListing(ctx, "items", where)
}

// CreateItem adds an item to a store that actor may change. A missing store, including one
// deleted while the item is written, is a *NotFoundError for "Store": the foreign key has
// the last word, after the read that finds the store's owner.
func (db *DB) CreateItem(ctx context.Context, actor Actor, in ItemInput) (*Item, error) {
	it, err := in.clean()
	if err != nil {
		return nil, err
	}
	// One statement inserts the item only into a store actor may change; it is the whole
	// write (see writeAlone). The store is read only when nothing was inserted, to tell a
	// missing store from a refusal.
	now := rel.Now()
	st := db.statement()
	st.write("INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at) SELECT id, ",
		st.arg(it.Name), ", ", st.arg(it.NameKey), ", ", st.arg(it.PriceCents), ", ", st.arg(now), ", ", st.arg(now),
		" FROM stores WHERE id = ", st.arg(it.StoreID))
	actor.mayChangeStore(st)
	st.write(" RETURNING ", itemColumns)
	rows, err := writeAlone[Item](ctx, db, st)
	switch {
	case err == nil && len(rows) == 1:
		return &rows[0], nil
	case err == nil:
		if _, err := getByID[Store](ctx, db, "stores", storeColumns, it.StoreID, errItemStoreNotFound); err != nil {
			return nil, err
		}
		return nil, errStoreForbidden
	case isForeignKeyViolation(err): // the store was deleted while the item went in
		return nil, errItemStoreNotFound
	}
	return nil, fmt.Errorf("create item: %w", classify(ctx, err))
}

// UpdateItem changes the fields that patch sets; StoreID moves the item to another store.
// actor must be allowed to change the item's store and, for a move, the other store too. A
// missing item or store is reported before a refusal.
func (db *DB) UpdateItem(ctx context.Context, actor Actor, id int64, patch ItemPatch) (*Item, error) {
	if err := patch.Validate(); err != nil {
		return nil, err
	}
	var it Item
	err := db.readThenWrite(ctx, &it, rel.Eq("id", id), true, func(ctx context.Context) (bool, error) {
		var dest *Store
		if patch.StoreID != nil && *patch.StoreID != it.StoreID {
			var err error
			if dest, err = db.storeInWrite(ctx, *patch.StoreID, errItemStoreNotFound); err != nil {
				return false, err
			}
		}
		// The foreign key keeps the item's store while the item is there.
		home, err := db.storeInWrite(ctx, it.StoreID, errItemNotFound)
		if err != nil {
			return false, err
		}
		if !actor.mayChange(home.OwnerID) || dest != nil && !actor.mayChange(dest.OwnerID) {
			return false, errStoreForbidden
		}
		return patch.apply(&it), nil
	})
	switch {
	case err == nil:
		return &it, nil
	case isNotFound(err):
		return nil, errItemNotFound
	case isTyped(err):
		return nil, err
	case isForeignKeyViolation(err):
		return nil, errItemStoreNotFound
	}
	return nil, fmt.Errorf("update item %d: %w", id, classify(ctx, err))
}

// DeleteItem deletes an item, if actor may change its store.
func (db *DB) DeleteItem(ctx context.Context, actor Actor, id int64) error {
	var it Item
	return db.checkThenDelete(ctx, &it, id, "delete item", errItemNotFound, func(ctx context.Context) error {
		// The foreign key keeps the store while the item is there.
		st, err := db.storeInWrite(ctx, it.StoreID, errItemNotFound)
		if err != nil {
			return err
		}
		if !actor.mayChange(st.OwnerID) {
			return errStoreForbidden
		}
		return nil
	})
}
