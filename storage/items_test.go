package storage_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/storegraph/storegraph/storage"
)

func TestCreateItemValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		store := mustStore(t, db, "Grocer")

		tests := []struct {
			name       string
			input      storage.ItemInput
			wantPrice  float64
			wantFields []string
		}{
			{"keeps 17.99 exact", storage.ItemInput{Name: "Cheese", Price: 17.99}, 17.99, nil},
			{"accepts zero", storage.ItemInput{Name: "Free", Price: 0}, 0, nil},
			{"accepts the maximum", storage.ItemInput{Name: "Yacht", Price: 99999999.99}, 99999999.99, nil},
			{"accepts one decimal", storage.ItemInput{Name: "Tea", Price: 0.1}, 0.1, nil},
			{"rejects above the maximum", storage.ItemInput{Name: "Island", Price: 100000000}, 0, []string{"price"}},
			{"rejects negative", storage.ItemInput{Name: "Debt", Price: -0.01}, 0, []string{"price"}},
			{"rejects three decimals", storage.ItemInput{Name: "Gas", Price: 1.999}, 0, []string{"price"}},
			{"rejects NaN", storage.ItemInput{Name: "Odd", Price: math.NaN()}, 0, []string{"price"}},
			{"rejects infinity", storage.ItemInput{Name: "Odd", Price: math.Inf(1)}, 0, []string{"price"}},
			{"reports every problem", storage.ItemInput{Name: " ", Price: -1}, 0, []string{"name", "price"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.input.StoreID = store.ID
				it, err := db.CreateItem(ctx, asAdmin, tt.input)
				if tt.wantFields != nil {
					if got := fieldsOf(t, err); !slices.Equal(got, tt.wantFields) {
						t.Fatalf("invalid fields = %v, want %v", got, tt.wantFields)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got, err := db.GetItem(ctx, it.ID)
				if err != nil || got.Price() != tt.wantPrice {
					t.Fatalf("price read back = %v (%v), want %v", got.Price(), err, tt.wantPrice)
				}
			})
		}
	})
}

func TestCreateItemInMissingStoreIsStoreNotFound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		_, err := db.CreateItem(ctx, asAdmin, storage.ItemInput{Name: "Orphan", Price: 1, StoreID: 424242})
		if !errors.Is(err, storage.ErrNotFound) || err.Error() != "Store not found." {
			t.Fatalf("error = %v, want Store not found", err)
		}
		if n, _ := db.CountItems(ctx, storage.ItemFilter{}); n != 0 {
			t.Fatalf("%d items stored, want 0", n)
		}
	})
}

func TestUpdateItemIsPartial(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		home := mustStore(t, db, "Home")
		away := mustStore(t, db, "Away")
		it := mustItem(t, db, home.ID, "Lamp", 25.5)

		tests := []struct {
			name      string
			id        int64
			patch     storage.ItemPatch
			wantName  string
			wantPrice float64
			wantStore int64
			wantErr   string
		}{
			{"empty patch changes nothing", it.ID, storage.ItemPatch{}, "Lamp", 25.5, home.ID, ""},
			{"name only", it.ID, storage.ItemPatch{Name: ptr(" Desk Lamp ")}, "Desk Lamp", 25.5, home.ID, ""},
			{"price only", it.ID, storage.ItemPatch{Price: ptr(19.99)}, "Desk Lamp", 19.99, home.ID, ""},
			{"moves to another store", it.ID, storage.ItemPatch{StoreID: &away.ID}, "Desk Lamp", 19.99, away.ID, ""},
			{"refuses a missing store", it.ID, storage.ItemPatch{StoreID: ptr(int64(999999))}, "", 0, 0, "Store not found."},
			{"refuses a bad price", it.ID, storage.ItemPatch{Price: ptr(0.001)}, "", 0, 0, "price: Price must have at most two decimal places."},
			{"reports a missing item", 999999, storage.ItemPatch{Name: ptr("Ghost")}, "", 0, 0, "Item not found."},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := db.UpdateItem(ctx, asAdmin, tt.id, tt.patch)
				if tt.wantErr != "" {
					if err == nil || err.Error() != tt.wantErr {
						t.Fatalf("error = %v, want %q", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got, err := db.GetItem(ctx, tt.id)
				if err != nil || got.Name != tt.wantName || got.Price() != tt.wantPrice || got.StoreID != tt.wantStore {
					t.Fatalf("read back %+v (%v), want name %q price %v store %d", got, err, tt.wantName, tt.wantPrice, tt.wantStore)
				}
			})
		}
	})
}

func TestDeleteItem(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		it := mustItem(t, db, mustStore(t, db, "Shop").ID, "Thing", 3)
		if err := db.DeleteItem(ctx, asAdmin, it.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteItem(ctx, asAdmin, it.ID); err == nil || err.Error() != "Item not found." {
			t.Fatalf("second delete: error = %v, want Item not found", err)
		}
	})
}

func TestDatabaseRefusesWhatValidationWouldMiss(t *testing.T) {
	// The constraints back the Go checks: a write that bypasses them still cannot store a
	// negative price, an orphan item or a duplicate name key.
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		store := mustStore(t, db, "Guarded")
		tests := []struct {
			name string
			sql  string
		}{
			{"negative price", "INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at) VALUES (" + strconv.FormatInt(store.ID, 10) + ", 'x', 'x', -1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"},
			{"orphan item", "INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at) VALUES (987654, 'x', 'x', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"},
			{"duplicate name key", "INSERT INTO stores (name, name_key, created_at, updated_at) VALUES ('GUARDED', 'guarded', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := db.ExecForTest(ctx, tt.sql); err == nil {
					t.Fatal("the database accepted it")
				}
			})
		}
	})
}
