package migrations

import "github.com/go-rel/rel"

// The SQL of migration 20261201020000, "record changes in an event log". Like the rest of a
// released migration it is never edited; a later change to the log is a new version.
//
// Triggers, not the Go code, record the changes: a store's deletion cascades to its items
// inside the database, and only triggers see those rows go.

// eventLogSQL is the event log of one dialect: the statements that create it, and those that
// remove it before its tables are dropped.
type eventLogSQL struct {
	create []string
	remove []string
}

func eventLog(dialect string) eventLogSQL {
	if dialect == "postgres" {
		return postgresEventLog
	}
	return sqliteEventLog
}

func (l eventLogSQL) up(s *rel.Schema) { execAll(s, l.create) }

func (l eventLogSQL) down(s *rel.Schema) {
	execAll(s, l.remove)
	s.DropTable("events")
	s.DropTable("event_clock")
}

// On Postgres the order of sequence ids is not the order of commits, so an event's place in
// the log, seq, is given after its transaction has committed (storage.StampEvents).
// events_unstamped is the stamper's queue; the
// unique index on seq serves the readers and the pruning, and is partial so that writers,
// whose events have no seq yet, do not add to it. at is the wall clock of the change in UTC
// (clock_timestamp, not the transaction's start). The triggers do not notify the listeners:
// a transaction that notifies commits only when no other notifying one is (see
// storage.eventNotifier, which notifies instead).
var postgresEventLog = eventLogSQL{
	create: []string{
		`CREATE TABLE events (
	id BIGSERIAL PRIMARY KEY,
	seq BIGINT,
	entity TEXT NOT NULL CHECK (entity IN ('Store', 'Item')),
	kind TEXT NOT NULL CHECK (kind IN ('CREATED', 'UPDATED', 'DELETED')),
	row_id BIGINT NOT NULL,
	store_id BIGINT NOT NULL,
	prev_store_id BIGINT,
	at TIMESTAMP NOT NULL DEFAULT (clock_timestamp() AT TIME ZONE 'utc'),
	"row" JSONB
)`,
		`CREATE UNIQUE INDEX events_seq ON events (seq) WHERE seq IS NOT NULL`,
		`CREATE INDEX events_unstamped ON events (id) WHERE seq IS NULL`,
		`CREATE TABLE event_clock (
	seq BIGINT NOT NULL,
	pruned_through BIGINT NOT NULL
)`,
		`INSERT INTO event_clock (seq, pruned_through) VALUES (0, 0)`,
		`CREATE FUNCTION record_store_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		INSERT INTO events (entity, kind, row_id, store_id) VALUES ('Store', 'DELETED', OLD.id, OLD.id);
	ELSE
		INSERT INTO events (entity, kind, row_id, store_id, "row")
		VALUES ('Store', CASE TG_OP WHEN 'INSERT' THEN 'CREATED' ELSE 'UPDATED' END, NEW.id, NEW.id, to_jsonb(NEW));
	END IF;
	RETURN NULL;
END
$$`,
		// A moved item's event keeps the store it left, whose listeners must drop it.
		`CREATE FUNCTION record_item_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		INSERT INTO events (entity, kind, row_id, store_id) VALUES ('Item', 'DELETED', OLD.id, OLD.store_id);
	ELSIF TG_OP = 'INSERT' THEN
		INSERT INTO events (entity, kind, row_id, store_id, "row") VALUES ('Item', 'CREATED', NEW.id, NEW.store_id, to_jsonb(NEW));
	ELSE
		INSERT INTO events (entity, kind, row_id, store_id, prev_store_id, "row")
		VALUES ('Item', 'UPDATED', NEW.id, NEW.store_id, NULLIF(OLD.store_id, NEW.store_id), to_jsonb(NEW));
	END IF;
	RETURN NULL;
END
$$`,
		`CREATE TRIGGER stores_record_event AFTER INSERT OR UPDATE OR DELETE ON stores FOR EACH ROW EXECUTE FUNCTION record_store_event()`,
		`CREATE TRIGGER items_record_event AFTER INSERT OR UPDATE OR DELETE ON items FOR EACH ROW EXECUTE FUNCTION record_item_event()`,
	},
	remove: []string{
		`DROP TRIGGER items_record_event ON items`,
		`DROP TRIGGER stores_record_event ON stores`,
		`DROP FUNCTION record_item_event()`,
		`DROP FUNCTION record_store_event()`,
	},
}

// SQLite has one writer at a time, so id order is commit order and the id is the event's
// place in the log: nothing is stamped. A new row's id is one more than the largest, and
// pruning always keeps the newest event, so no id is used twice; AUTOINCREMENT would ensure
// that too, at the price of a write to sqlite_sequence with every event. at has the
// milliseconds SQLite's clock gives, written so that text order is time order; the rows' own
// timestamps are copied as the driver wrote them.
var sqliteEventLog = eventLogSQL{
	create: []string{
		`CREATE TABLE events (
	id INTEGER PRIMARY KEY,
	entity TEXT NOT NULL CHECK (entity IN ('Store', 'Item')),
	kind TEXT NOT NULL CHECK (kind IN ('CREATED', 'UPDATED', 'DELETED')),
	row_id INTEGER NOT NULL,
	store_id INTEGER NOT NULL,
	prev_store_id INTEGER,
	at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
	"row" TEXT
)`,
		`CREATE TABLE event_clock (
	pruned_through INTEGER NOT NULL
)`,
		`INSERT INTO event_clock (pruned_through) VALUES (0)`,
		sqliteEventTrigger("stores_record_created", "AFTER INSERT", "stores", "'Store', 'CREATED', NEW.id, NEW.id, NULL, "+sqliteStoreRow),
		sqliteEventTrigger("stores_record_updated", "AFTER UPDATE", "stores", "'Store', 'UPDATED', NEW.id, NEW.id, NULL, "+sqliteStoreRow),
		// BEFORE, so that a store's deletion is recorded ahead of its items', as on
		// Postgres, whose cascade's triggers fire after the statement's own: SQLite runs the
		// cascade before a DELETE's AFTER triggers. A failed DELETE takes the event with it.
		sqliteEventTrigger("stores_record_deleted", "BEFORE DELETE", "stores", "'Store', 'DELETED', OLD.id, OLD.id, NULL, NULL"),
		sqliteEventTrigger("items_record_created", "AFTER INSERT", "items", "'Item', 'CREATED', NEW.id, NEW.store_id, NULL, "+sqliteItemRow),
		sqliteEventTrigger("items_record_updated", "AFTER UPDATE", "items", "'Item', 'UPDATED', NEW.id, NEW.store_id, NULLIF(OLD.store_id, NEW.store_id), "+sqliteItemRow),
		sqliteEventTrigger("items_record_deleted", "AFTER DELETE", "items", "'Item', 'DELETED', OLD.id, OLD.store_id, NULL, NULL"),
	},
	remove: []string{
		`DROP TRIGGER items_record_deleted`,
		`DROP TRIGGER items_record_updated`,
		`DROP TRIGGER items_record_created`,
		`DROP TRIGGER stores_record_deleted`,
		`DROP TRIGGER stores_record_updated`,
		`DROP TRIGGER stores_record_created`,
	},
}

// The rows as they were at this version; a column added later needs a new version of the
// triggers.
const (
	sqliteStoreRow = `json_object('id', NEW.id, 'name', NEW.name, 'name_key', NEW.name_key, 'owner_id', NEW.owner_id, ` +
		`'created_at', NEW.created_at, 'updated_at', NEW.updated_at)`
	sqliteItemRow = `json_object('id', NEW.id, 'store_id', NEW.store_id, 'name', NEW.name, 'name_key', NEW.name_key, ` +
		`'price_cents', NEW.price_cents, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at)`
)

func execAll(s *rel.Schema, statements []string) {
	for _, sql := range statements {
		s.Exec(rel.Raw(sql))
	}
}

func sqliteEventTrigger(name, when, table, values string) string {
	return "CREATE TRIGGER " + name + " " + when + " ON " + table +
		` BEGIN INSERT INTO events (entity, kind, row_id, store_id, prev_store_id, "row") VALUES (` + values + "); END"
}
