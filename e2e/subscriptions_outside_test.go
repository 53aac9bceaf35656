package e2e

// Writes made outside the server: straight into the database (psql, another program,
// another process on the SQLite file). The triggers record them, but nothing wakes the
// server's processes; each finds them when it looks at the log after EVENT_SWEEP_INTERVAL
// without a wake-up.

import (
	"strconv"
	"testing"
)

func TestWritesMadeOutsideTheServerReachSubscribers(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		s := startServer(t, backend, dbURL, "EVENT_SWEEP_INTERVAL=100ms")
		after := vars{"after": baseEvent(t, s).Cursor}
		streams := map[string]eventStream{
			"WebSocket": wsSubscribe(t, s, storeEventsSubscription, after),
			"SSE":       sseSubscribe(t, s, storeEventsSubscription, after, ""),
		}
		// A write through the server first: once it has arrived, the subscriptions are live,
		// and what follows can only reach them through the hub.
		marker := createStore(t, s, "outside marker").ID
		for _, st := range streams {
			skipTo(t, st, isCreated(marker))
		}

		db := openDB(t, s)
		var row int64
		if err := db.QueryRow(`INSERT INTO stores (name, name_key, created_at, updated_at)
			VALUES ('Written Outside', 'written outside', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id`).Scan(&row); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("UPDATE stores SET name = 'Renamed Outside', name_key = 'renamed outside' WHERE id = " + strconv.FormatInt(row, 10)); err != nil {
			t.Fatal(err)
		}
		id := globalID(storeType, row)
		want := []liveEvent{{Kind: "CREATED", StoreID: id}, {Kind: "UPDATED", StoreID: id}}
		for name, st := range streams {
			got := collect(t, st, len(want))
			for i := range got {
				if e := got[i]; e.Kind != want[i].Kind || e.StoreID != want[i].StoreID || e.ItemID != "" {
					t.Errorf("%s: event %d is %v, want %v", name, i, e, want[i])
				}
			}
		}
	})
}
