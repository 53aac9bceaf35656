package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
)

// Event is one change of a store or an item, as the database's triggers recorded it (see
// migration 20261201020000). Seq is its place in the log: the log is read in seq order, and
// a change that committed after another has a larger seq wherever the order can be told
// (the same row; a transaction begun after the other committed).
type Event struct {
	Seq    int64
	Entity string // EntityStore or EntityItem
	Kind   string // KindCreated, KindUpdated or KindDeleted
	RowID  int64
	// StoreID is the store's own id for a store, the item's store for an item.
	StoreID int64
	// PrevStoreID is the store a moved item left; nil for any other change.
	PrevStoreID *int64
	At          time.Time // UTC
	// Store or Item is the row as the change left it, as GetStore or GetItem would have
	// returned it then; nil for a deletion.
	Store *Store
	Item  *Item
}

// The values of Event.Entity and Event.Kind.
const (
	EntityStore = "Store"
	EntityItem  = "Item"

	KindCreated = "CREATED"
	KindUpdated = "UPDATED"
	KindDeleted = "DELETED"
)

// ReadEvents returns at most limit events with seq greater than after, in seq order. On
// Postgres only stamped events are read (see StampEvents), so a reader never passes one
// whose transaction may still commit.
func (db *DB) ReadEvents(ctx context.Context, after int64, limit int) ([]Event, error) {
	if limit < 1 {
		return nil, fmt.Errorf("read events: limit %d, want at least 1", limit)
	}
	seq := db.seqColumn()
	st := db.statement()
	st.write("SELECT ", seq, `, entity, kind, row_id, store_id, prev_store_id, at, "row" FROM events WHERE `,
		seq, " > ", st.arg(after), " ORDER BY ", seq, " LIMIT ", st.arg(limit))
	rows, err := queryRows[eventRow](ctx, db, st)
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", after, classify(ctx, err))
	}
	events := make([]Event, len(rows))
	for i := range rows {
		if err := rows[i].decode(); err != nil {
			return nil, fmt.Errorf("read event %d: %w", rows[i].Seq, err)
		}
		events[i] = rows[i].Event
	}
	return events, nil
}

// LatestEventSeq is the seq of the newest event a reader can see, 0 when there has never
// been one: the present, from which a reader that asks for no past starts.
func (db *DB) LatestEventSeq(ctx context.Context) (int64, error) {
	n, err := db.count(ctx, db.latestEventSeqSQL())
	if err != nil {
		return 0, fmt.Errorf("latest event: %w", classify(ctx, err))
	}
	return n, nil
}

// latestEventSeqSQL selects the newest stamped seq as n. On SQLite it is the largest id:
// pruning keeps the newest event.
func (db *DB) latestEventSeqSQL() string {
	if db.dialect == Postgres {
		return "SELECT seq AS n FROM event_clock"
	}
	return "SELECT COALESCE(max(id), 0) AS n FROM events"
}

// EventsWaiting says whether the log holds what a reader at seq after has not read yet:
// events stamped after it or, on Postgres, committed events still to be stamped. It reads,
// and writes nothing, so that a reader can look whenever it has not been woken for a while:
// a write made outside the server (psql, another program, another process on the SQLite
// file) is recorded by the triggers but sends no wake-up.
func (db *DB) EventsWaiting(ctx context.Context, after int64) (bool, error) {
	st := db.statement()
	if db.dialect == Postgres {
		// The scan of the unstamped from the stamper's bound is the stamper's own
		// (migration 20261202050000); an uncommitted event is not seen.
		st.write("SELECT CASE WHEN c.seq > ", st.arg(after), ` OR EXISTS (SELECT 1 FROM events e
	WHERE e.seq IS NULL AND e.id >= c.stamped_below) THEN 1 ELSE 0 END AS n FROM event_clock c`)
	} else {
		st.write("SELECT count(*) AS n FROM (SELECT 1 FROM events WHERE id > ", st.arg(after), " LIMIT 1) AS later")
	}
	n, err := db.count(ctx, st.sql.String(), st.args...)
	if err != nil {
		return false, fmt.Errorf("events waiting after %d: %w", after, classify(ctx, err))
	}
	return n > 0, nil
}

// EventsPrunedThrough is the highest seq PruneEvents has removed (0 if none): the log no
// longer holds every event after a position below it.
func (db *DB) EventsPrunedThrough(ctx context.Context) (int64, error) {
	n, err := db.count(ctx, "SELECT pruned_through AS n FROM event_clock")
	if err != nil {
		return 0, fmt.Errorf("events pruned through: %w", classify(ctx, err))
	}
	return n, nil
}

// seqColumn is the column holding an event's seq: on SQLite, whose writers commit one at a
// time, the id already is.
func (db *DB) seqColumn() string {
	if db.dialect == Postgres {
		return "seq"
	}
	return "id"
}

// eventRow is an event as read, its row snapshot still JSON.
type eventRow struct {
	Event
	row []byte
}

func (r *eventRow) scanTargets() []any {
	return []any{&r.Seq, &r.Entity, &r.Kind, &r.RowID, &r.StoreID, &r.PrevStoreID, &r.At, &r.row}
}

func (r *eventRow) normalize() { r.At = r.At.UTC() }

// decode fills in Store or Item from the snapshot.
func (r *eventRow) decode() error {
	if r.row == nil {
		return nil
	}
	switch r.Entity {
	case EntityStore:
		var s storeSnapshot
		if err := json.Unmarshal(r.row, &s); err != nil {
			return fmt.Errorf("decode store: %w", err)
		}
		r.Store = &Store{ID: s.ID, Name: s.Name, NameKey: s.NameKey, OwnerID: s.OwnerID,
			CreatedAt: s.CreatedAt.Time, UpdatedAt: s.UpdatedAt.Time}
	case EntityItem:
		var i itemSnapshot
		if err := json.Unmarshal(r.row, &i); err != nil {
			return fmt.Errorf("decode item: %w", err)
		}
		r.Item = &Item{ID: i.ID, StoreID: i.StoreID, Name: i.Name, NameKey: i.NameKey, PriceCents: i.PriceCents,
			CreatedAt: i.CreatedAt.Time, UpdatedAt: i.UpdatedAt.Time}
	default:
		return fmt.Errorf("unknown entity %q", r.Entity)
	}
	return nil
}

// storeSnapshot and itemSnapshot are the rows as the triggers write them: to_jsonb on
// Postgres, json_object on SQLite, both with the column names as keys.
type storeSnapshot struct {
	ID        int64        `json:"id"`
	Name      string       `json:"name"`
	NameKey   string       `json:"name_key"`
	OwnerID   *int64       `json:"owner_id"`
	CreatedAt snapshotTime `json:"created_at"`
	UpdatedAt snapshotTime `json:"updated_at"`
}

type itemSnapshot struct {
	ID         int64        `json:"id"`
	StoreID    int64        `json:"store_id"`
	Name       string       `json:"name"`
	NameKey    string       `json:"name_key"`
	PriceCents int64        `json:"price_cents"`
	CreatedAt  snapshotTime `json:"created_at"`
	UpdatedAt  snapshotTime `json:"updated_at"`
}

// snapshotTime is a timestamp as a snapshot holds it: Postgres writes a timestamptz in
// RFC 3339 with the session's offset; SQLite keeps the text the driver wrote, which the
// driver reads back with its own list of layouts. Both are read as the driver reads the
// column, in UTC.
type snapshotTime struct{ time.Time }

func (t *snapshotTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	s = strings.TrimSuffix(s, "Z")
	for _, layout := range sqlite3.SQLiteTimestampFormats {
		if v, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("timestamp %q in no known layout", s)
}
