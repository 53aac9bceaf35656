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
		{
			Version: 20261201010000,
			Name:    "create users and sessions",
			Up: func(s *rel.Schema) {
				s.CreateTable("users", func(t *rel.Table) {
					t.BigID("id", rel.Primary(true))
					t.String("email", rel.Limit(254), rel.Required(true))
					// email_key is the lower-cased email: one account per address,
					// whatever its case.
					t.Text("email_key", rel.Required(true), binary)
					t.Text("password_hash", rel.Required(true))
					t.String("role", rel.Limit(16), rel.Required(true))
					t.DateTime("created_at", rel.Required(true))
					t.DateTime("updated_at", rel.Required(true))
					t.Unique([]string{"email_key"})
					t.Fragment("CHECK (role IN ('USER', 'ADMIN'))")
				})
				// Stores made before accounts existed have no owner (NULL): only admins may
				// change them. SQLite adds no constraint to an existing table, but it does
				// take a column's own REFERENCES clause when the column's default is NULL,
				// so the foreign key is written into the column on both databases.
				s.AddColumn("stores", "owner_id", rel.BigInt, rel.Options(`REFERENCES "users" ("id") ON DELETE SET NULL`))
				s.CreateIndex("stores", "stores_owner_id_id", []string{"owner_id", "id"})
				s.CreateTable("sessions", func(t *rel.Table) {
					t.BigID("id", rel.Primary(true))
					t.BigInt("user_id", rel.Required(true))
					t.DateTime("created_at", rel.Required(true))
					t.DateTime("expires_at", rel.Required(true))
					t.DateTime("revoked_at")
					t.ForeignKey("user_id", "users", "id", rel.OnDelete("CASCADE"))
				})
				s.CreateIndex("sessions", "sessions_user_id", []string{"user_id"})
				s.CreateTable("refresh_tokens", func(t *rel.Table) {
					// Only the token's SHA-256 is kept: the database never holds a usable token.
					t.Text("hash", rel.Required(true))
					t.BigInt("session_id", rel.Required(true))
					t.DateTime("created_at", rel.Required(true))
					t.DateTime("used_at")
					t.PrimaryKey("hash")
					t.ForeignKey("session_id", "sessions", "id", rel.OnDelete("CASCADE"))
				})
				// For the cascade from sessions, which Postgres would otherwise run as a scan.
				s.CreateIndex("refresh_tokens", "refresh_tokens_session_id", []string{"session_id"})
				s.CreateTable("settings", func(t *rel.Table) {
					t.Text("name", rel.Required(true))
					t.Text("value", rel.Required(true))
					t.PrimaryKey("name")
				})
			},
			Down: func(s *rel.Schema) {
				s.DropTable("settings")
				s.DropTable("refresh_tokens")
				s.DropTable("sessions")
				s.DropIndex("stores", "stores_owner_id_id")
				s.DropColumn("stores", "owner_id")
				s.DropTable("users")
			},
		},
		{
			Version: 20261201020000,
			Name:    "record changes in an event log",
			Up:      func(s *rel.Schema) { eventLog(dialect).up(s) },
			Down:    func(s *rel.Schema) { eventLog(dialect).down(s) },
		},
		statements(20261202010000, "stamp events in one statement", stampFunction, dialect),
		statements(20261202050000, "bound the stamper's scan", stampBound, dialect),
	}
}

// statements is a migration of raw SQL, whose statements for dialect sql gives: up's apply
// it, down's revert it.
func statements(version int, name string, sql func(dialect string) (up, down []string), dialect string) Migration {
	up, down := sql(dialect)
	return Migration{
		Version: version,
		Name:    name,
		Up:      func(s *rel.Schema) { execAll(s, up) },
		Down:    func(s *rel.Schema) { execAll(s, down) },
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
