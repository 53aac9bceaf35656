package storage_test

import (
	"context"
	"testing"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// What one write costs, its commit included: the price of making every write confirm its
// commit (see write) shows here.
func BenchmarkWrite(b *testing.B) {
	for _, backend := range storagetest.Backends {
		b.Run(backend.Name, func(b *testing.B) {
			ctx := context.Background()
			db := openMigrated(b, backend.New(b))
			st, err := db.CreateStore(ctx, asAdmin, "Bench")
			if err != nil {
				b.Fatal(err)
			}
			it, err := db.CreateItem(ctx, asAdmin, storage.ItemInput{Name: "Lamp", Price: 1, StoreID: st.ID})
			if err != nil {
				b.Fatal(err)
			}

			b.Run("CreateItem", func(b *testing.B) {
				for b.Loop() {
					if _, err := db.CreateItem(ctx, asAdmin, storage.ItemInput{Name: "Lamp", Price: 1, StoreID: st.ID}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("UpdateItem", func(b *testing.B) {
				price := 0.0
				for b.Loop() {
					price++
					if _, err := db.UpdateItem(ctx, asAdmin, it.ID, storage.ItemPatch{Price: &price}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("DeleteItem", func(b *testing.B) {
				ids := make([]int64, b.N)
				for i := range ids {
					doomed, err := db.CreateItem(ctx, asAdmin, storage.ItemInput{Name: "Doomed", Price: 1, StoreID: st.ID})
					if err != nil {
						b.Fatal(err)
					}
					ids[i] = doomed.ID
				}
				b.ResetTimer()
				for _, id := range ids {
					if err := db.DeleteItem(ctx, asAdmin, id); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
