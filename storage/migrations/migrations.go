// Package migrations lists the catalogue's schema versions, oldest first. A version, once
// released, is never edited: a change to the schema is a new version.
package migrations

import "github.com/go-rel/rel"

// Migration is one schema version: Up applies it, Down reverts it.
type Migration struct {
	Version int
	Name    string
	Up      func(*rel.Schema)
	Down    func(*rel.Schema)
}

// All returns every migration for the named dialect ("postgres" or "sqlite").
func All(dialect string) []Migration {
	// Name keys are compared byte by byte on both databases: SQLite's default collation
	// already does, Postgres needs the "C" collation to stop the locale from reordering them.
	binary := rel.Options("")
	if dialect == "postgres" {
		binary = rel.Options(`COLLATE "C"`)
	}

	return []Migration{
		{
			Version: 20261128010000,
			Name:    "create stores and items",
			Up: func(s *rel.Schema) {
				s.CreateTable("stores", func(t *rel.Table) {
					t.BigID("id", rel.Primary(true))
					t.String("name", rel.Limit(80), rel.Required(true))
					// name_key is the case-folded name: uniqueness and ordering use it,
					// so "Corner Shop" and "corner shop" are the same store name.
					t.Text("name_key", rel.Required(true), binary)
					t.DateTime("created_at", rel.Required(true))
					t.DateTime("updated_at", rel.Required(true))
					t.Unique([]string{"name_key"})
				})
				s.CreateTable("items", func(t *rel.Table) {
					t.BigID("id", rel.Primary(true))
					t.BigInt("store_id", rel.Required(true))
					t.String("name", rel.Limit(80), rel.Required(true))
					t.Text("name_key", rel.Required(true), binary)
					// Prices are whole cents: exact on both databases, for sums and ordering.
					t.BigInt("price_cents", rel.Required(true))
					t.DateTime("created_at", rel.Required(true))
					t.DateTime("updated_at", rel.Required(true))
					t.ForeignKey("store_id", "stores", "id", rel.OnDelete("CASCADE"))
					t.Fragment("CHECK (price_cents >= 0 AND price_cents <= 9999999999)")
				})
				// Postgres does not index foreign keys by itself; the cascade and every
				// per-store listing need this one.
				s.CreateIndex("items", "items_store_id_id", []string{"store_id", "id"})
			},
			Down: func(s *rel.Schema) {
				s.DropTable("items")
				s.DropTable("stores")
			},
		},
		{
			Version: 20261128020000,
			Name:    "index the keyset orders",
			// Every listing seeks on (order key, id), within a store or across all items;
			// one index per order lets Postgres seek to the cursor and read one page.
			Up: func(s *rel.Schema) {
				for _, ix := range keysetIndexes {
					s.CreateIndex(ix.table, ix.name, ix.columns)
				}
			},
			Down: func(s *rel.Schema) {
				for _, ix := range keysetIndexes {
					s.DropIndex(ix.table, ix.name)
				}
			},
		},
	}
}

var keysetIndexes = []struct {
	table, name string
	columns     []string
}{
	{"items", "items_store_id_name_key_id", []string{"store_id", "name_key", "id"}},
	{"items", "items_store_id_price_cents_id", []string{"store_id", "price_cents", "id"}},
	{"items", "items_store_id_created_at_id", []string{"store_id", "created_at", "id"}},
	{"items", "items_name_key_id", []string{"name_key", "id"}},
	{"items", "items_price_cents_id", []string{"price_cents", "id"}},
	{"items", "items_created_at_id", []string{"created_at", "id"}},
	{"stores", "stores_name_key_id", []string{"name_key", "id"}},
	{"stores", "stores_created_at_id", []string{"created_at", "id"}},
}
