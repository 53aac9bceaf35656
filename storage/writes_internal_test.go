package storage

import (
	"context"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage/storagetest"
)

// A write of a store or an item wakes the event listeners; a write of anything else (users,
// their roles, sessions) adds nothing to the change log, so it owes them no notification.
func TestOnlyWritesOfTheLoggedRowsWakeTheListeners(t *testing.T) {
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			db := openMigrated(t, b.New(t))
			owed := owedWakes(t, db)
			var storeID, itemID, userID int64
			steps := []struct {
				name  string
				write func() error
				wakes bool
			}{
				{"creating a user", func() (err error) {
					u, err := db.CreateUser(ctx, "ann@example.com", "hash")
					if u != nil {
						userID = u.ID
					}
					return err
				}, false},
				{"promoting a user", func() error { _, err := db.PromoteUser(ctx, "ann@example.com"); return err }, false},
				{"setting a user's role", func() error {
					bob, err := db.CreateUser(ctx, "bob@example.com", "hash")
					if err == nil {
						_, err = db.SetUserRole(ctx, asAdmin, bob.ID, RoleAdmin)
					}
					if err == nil {
						_, err = db.SetUserRole(ctx, asAdmin, userID, RoleUser)
					}
					return err
				}, false},
				{"creating a session", func() error {
					_, err := db.CreateSession(ctx, userID, "refresh-hash", time.Now().Add(time.Hour))
					return err
				}, false},
				{"creating a store", func() error {
					s, err := db.CreateStore(ctx, asAdmin, "Shop")
					if s != nil {
						storeID = s.ID
					}
					return err
				}, true},
				{"renaming a store", func() error { _, err := db.UpdateStore(ctx, asAdmin, storeID, "Shop 2"); return err }, true},
				{"creating an item", func() error {
					it, err := db.CreateItem(ctx, asAdmin, ItemInput{Name: "Lamp", Price: 1, StoreID: storeID})
					if it != nil {
						itemID = it.ID
					}
					return err
				}, true},
				{"updating an item", func() error {
					_, err := db.UpdateItem(ctx, asAdmin, itemID, ItemPatch{Name: new("Desk lamp")})
					return err
				}, true},
				{"deleting an item", func() error { return db.DeleteItem(ctx, asAdmin, itemID) }, true},
				{"deleting a store", func() error { return db.DeleteStore(ctx, asAdmin, storeID) }, true},
			}
			for _, s := range steps {
				if err := s.write(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				if got := owed(); got != s.wakes {
					t.Errorf("%s: listeners woken = %v, want %v", s.name, got, s.wakes)
				}
			}
		})
	}
}

// owedWakes makes the notifications db's writes owe observable at once: it returns whether one
// is owed since it last looked. On SQLite that is a listener's wake, given before the write
// returns; on Postgres, the notifier's owed notification, which its sender (stopped here, so
// that it does not take it first) would send.
func owedWakes(t *testing.T, db *DB) func() bool {
	t.Helper()
	var owed chan struct{}
	switch {
	case db.commits != nil:
		owed = make(chan struct{}, 1)
		db.commits.mu.Lock()
		if db.commits.wakes == nil {
			db.commits.wakes = make(map[chan struct{}]struct{})
		}
		db.commits.wakes[owed] = struct{}{}
		db.commits.mu.Unlock()
	case db.notifier != nil:
		db.notifier.close()
		stopped := make(chan struct{})
		close(stopped)
		owed = make(chan struct{}, 1)
		db.notifier = &eventNotifier{pending: owed, stop: make(chan struct{}), done: stopped}
	default:
		t.Fatal("db has no way to wake event listeners")
	}
	return func() bool {
		select {
		case <-owed:
			return true
		default:
			return false
		}
	}
}
