package storage_test

import (
	"context"
	"testing"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// What one write costs, its commit included: the price of making every write confirm its
// commit (see write) shows here, and so does the event log's: each write runs on a database
// with the log ("events") and, right after, on one whose log is reverted ("noevents"), so
// that both meet the same machine.
func BenchmarkWrite(b *testing.B) {
	for _, backend := range storagetest.Backends {
		b.Run(backend.Name, func(b *testing.B) {
			logged := newBenchDB(b, openMigrated(b, backend.New(b)))
			unlogged := openMigrated(b, backend.New(b))
			revertEventLog(b, unlogged)
			dbs := []*benchDB{logged, newBenchDB(b, unlogged)}
			for _, write := range benchWrites {
				b.Run(write.name, func(b *testing.B) {
					for i, variant := range []string{"events", "noevents"} {
						b.Run(variant, func(b *testing.B) { write.run(b, dbs[i]) })
					}
				})
			}
		})
	}
}

// revertEventLog reverts the newest migrations down through the event log's.
func revertEventLog(b *testing.B, db *storage.DB) {
	b.Helper()
	for _, version := range []int{20261202050000, 20261202010000, 20261201020000} {
		revertNewest(b, db, version)
	}
}

// benchDB is a database with a store and an item to write to.
type benchDB struct {
	*storage.DB
	store *storage.Store
	item  *storage.Item
}

func newBenchDB(b *testing.B, db *storage.DB) *benchDB {
	b.Helper()
	ctx := context.Background()
	st, err := db.CreateStore(ctx, asAdmin, "Bench")
	if err != nil {
		b.Fatal(err)
	}
	it, err := db.CreateItem(ctx, asAdmin, storage.ItemInput{Name: "Lamp", Price: 1, StoreID: st.ID})
	if err != nil {
		b.Fatal(err)
	}
	return &benchDB{DB: db, store: st, item: it}
}

var benchWrites = []struct {
	name string
	run  func(b *testing.B, db *benchDB)
}{
	{"CreateItem", func(b *testing.B, db *benchDB) {
		for b.Loop() {
			if _, err := db.CreateItem(context.Background(), asAdmin, storage.ItemInput{Name: "Lamp", Price: 1, StoreID: db.store.ID}); err != nil {
				b.Fatal(err)
			}
		}
	}},
	{"UpdateItem", func(b *testing.B, db *benchDB) {
		price := 0.0
		for b.Loop() {
			price++
			if _, err := db.UpdateItem(context.Background(), asAdmin, db.item.ID, storage.ItemPatch{Price: &price}); err != nil {
				b.Fatal(err)
			}
		}
	}},
	{"DeleteItem", func(b *testing.B, db *benchDB) {
		ids := make([]int64, b.N)
		for i := range ids {
			doomed, err := db.CreateItem(context.Background(), asAdmin, storage.ItemInput{Name: "Doomed", Price: 1, StoreID: db.store.ID})
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = doomed.ID
		}
		b.ResetTimer()
		for _, id := range ids {
			if err := db.DeleteItem(context.Background(), asAdmin, id); err != nil {
				b.Fatal(err)
			}
		}
	}},
	// Concurrent writers: on Postgres, writes that notified inside their transaction would
	// take turns at COMMIT (see eventNotifier).
	{"CreateItemParallel", func(b *testing.B, db *benchDB) {
		b.SetParallelism(4) // 4 × GOMAXPROCS writers
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := db.CreateItem(context.Background(), asAdmin, storage.ItemInput{Name: "Lamp", Price: 1, StoreID: db.store.ID}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}},
}
