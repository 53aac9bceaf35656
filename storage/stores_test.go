package storage_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage"
)

func TestCreateStoreNames(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		mustStore(t, db, "Corner Shop")
		mustStore(t, db, "straße")

		tests := []struct {
			name     string
			input    string
			wantName string
			wantErr  error
			wantMsg  string
		}{
			{"trims surrounding space", "  Deli \t", "Deli", nil, ""},
			{"accepts 80 characters of two bytes each", strings.Repeat("é", 80), strings.Repeat("é", 80), nil, ""},
			{"rejects 81 characters", strings.Repeat("é", 81), "", storage.ErrInvalid, "name: Name must be at most 80 characters."},
			{"rejects empty", "", "", storage.ErrInvalid, "name: Name must not be empty."},
			{"rejects only spaces", "   ", "", storage.ErrInvalid, "name: Name must not be empty."},
			{"conflicts regardless of case", "corner shop", "", storage.ErrConflict, "A store with that name already exists."},
			{"conflicts after trimming", " CORNER SHOP ", "", storage.ErrConflict, "A store with that name already exists."},
			{"conflicts by Unicode case folding", "STRASSE", "", storage.ErrConflict, "A store with that name already exists."},
			{"stores SQL text literally", "Robert'); DROP TABLE stores;--", "Robert'); DROP TABLE stores;--", nil, ""},
			{"stores joined emoji literally", "👩‍👩‍👧 Family", "👩‍👩‍👧 Family", nil, ""},
			{"stores a right-to-left override literally", "\u202Eevil\u202C", "\u202Eevil\u202C", nil, ""},
			{"stores combining marks literally", "Cafe\u0301", "Cafe\u0301", nil, ""},
			{"counts astral characters as one each", strings.Repeat("𝔘", 80), strings.Repeat("𝔘", 80), nil, ""},
			{"rejects NUL", "a\x00b", "", storage.ErrInvalid, "name: Name must not contain control characters."},
			{"rejects a line break inside", "two\nlines", "", storage.ErrInvalid, "name: Name must not contain control characters."},
			{"rejects a C1 control", "a\u0085b", "", storage.ErrInvalid, "name: Name must not contain control characters."},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, err := db.CreateStore(ctx, asAdmin, tt.input)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) || err.Error() != tt.wantMsg {
						t.Fatalf("error = %v, want %q (%v)", err, tt.wantMsg, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("error = %v", err)
				}
				got, err := db.GetStore(ctx, s.ID)
				if err != nil || got.Name != tt.wantName {
					t.Fatalf("stored name = %q (%v), want %q", got.Name, err, tt.wantName)
				}
			})
		}
	})
}

func TestStoreTimestampsAreUTCWithSubSecondPrecision(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		created := mustStore(t, db, "Clock Shop")
		got, err := db.GetStore(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.CreatedAt.Location() != time.UTC || !got.CreatedAt.Equal(created.CreatedAt) || !got.UpdatedAt.Equal(created.UpdatedAt) {
			t.Fatalf("read back %v/%v, want UTC %v/%v", got.CreatedAt, got.UpdatedAt, created.CreatedAt, created.UpdatedAt)
		}
		if got.CreatedAt.Nanosecond()%1000 != 0 {
			t.Fatalf("created_at %v has sub-microsecond digits", got.CreatedAt)
		}

		time.Sleep(2 * time.Millisecond)
		renamed, err := db.UpdateStore(ctx, asAdmin, created.ID, "Clock Shop Two")
		if err != nil {
			t.Fatal(err)
		}
		if !renamed.CreatedAt.Equal(created.CreatedAt) || !renamed.UpdatedAt.After(created.UpdatedAt) {
			t.Fatalf("after update created=%v updated=%v, want created unchanged and updated after %v",
				renamed.CreatedAt, renamed.UpdatedAt, created.UpdatedAt)
		}
		if d := renamed.UpdatedAt.Sub(created.UpdatedAt); d >= time.Second {
			t.Fatalf("updated_at moved by %v: sub-second precision lost", d)
		}
	})
}

func TestUpdateStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		a := mustStore(t, db, "Alpha")
		mustStore(t, db, "Beta")

		tests := []struct {
			name    string
			id      int64
			newName string
			want    string
			wantErr string
		}{
			{"renames", a.ID, " Alpha Prime ", "Alpha Prime", ""},
			{"keeps own name with other case", a.ID, "ALPHA PRIME", "ALPHA PRIME", ""},
			{"refuses another store's name", a.ID, "beta", "", "A store with that name already exists."},
			{"refuses empty name", a.ID, "", "", "name: Name must not be empty."},
			{"reports a missing store", 999999, "Gamma", "", "Store not found."},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, err := db.UpdateStore(ctx, asAdmin, tt.id, tt.newName)
				if tt.wantErr != "" {
					if err == nil || err.Error() != tt.wantErr {
						t.Fatalf("error = %v, want %q", err, tt.wantErr)
					}
					return
				}
				if err != nil || s.Name != tt.want {
					t.Fatalf("got %+v, %v; want name %q", s, err, tt.want)
				}
			})
		}
	})
}

func TestDeleteStoreCascadesToItems(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		doomed := mustStore(t, db, "Doomed")
		kept := mustStore(t, db, "Kept")
		gone := mustItem(t, db, doomed.ID, "Gone", 1)
		stays := mustItem(t, db, kept.ID, "Stays", 2)

		if err := db.DeleteStore(ctx, asAdmin, doomed.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetItem(ctx, gone.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("item of deleted store: error = %v, want not found", err)
		}
		if _, err := db.GetItem(ctx, stays.ID); err != nil {
			t.Fatalf("item of other store: %v", err)
		}
		if n, err := db.CountItems(ctx, storage.ItemFilter{}); err != nil || n != 1 {
			t.Fatalf("items left = %d (%v), want 1", n, err)
		}
		if err := db.DeleteStore(ctx, asAdmin, doomed.ID); err == nil || err.Error() != "Store not found." {
			t.Fatalf("second delete: error = %v, want Store not found", err)
		}
	})
}

func TestConcurrentCreateStoreWithOneNameHasOneWinner(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		const n = 20
		var (
			wg    sync.WaitGroup
			errs  = make([]error, n)
			start = make(chan struct{})
			ctx   = context.Background()
			names = []string{"Race", "race", "RACE", " Race "}
		)
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = db.CreateStore(ctx, asAdmin, names[i%len(names)])
			})
		}
		close(start)
		wg.Wait()

		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, storage.ErrConflict):
				t.Errorf("unexpected error: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d creates succeeded, want exactly 1", wins)
		}
		page, err := db.ListStores(ctx, storage.StoreFilter{}, storage.Order{}, storage.PageArgs{})
		if err != nil || len(page.Rows) != 1 {
			t.Fatalf("stores = %d (%v), want 1", len(page.Rows), err)
		}
		if !slices.Contains(names, page.Rows[0].Name) {
			t.Fatalf("stored name %q", page.Rows[0].Name)
		}
	})
}

func TestStoreFilterByOwner(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		ann := storage.Actor{UserID: mustUser(t, db, "ann@example.com").ID}
		bo := storage.Actor{UserID: mustUser(t, db, "bo@example.com").ID}
		idle := mustUser(t, db, "idle@example.com")
		a1 := mustOwnedStore(t, db, ann, "Ann One")
		mustOwnedStore(t, db, bo, "Bo One")
		a2 := mustOwnedStore(t, db, ann, "Ann Two")
		mustStore(t, db, "Nobody's")

		tests := []struct {
			name   string
			filter storage.StoreFilter
			order  storage.Order
			want   []int64
		}{
			{"a user's stores by id", storage.StoreFilter{OwnerID: &ann.UserID}, storage.Order{}, []int64{a1.ID, a2.ID}},
			{"by name, descending", storage.StoreFilter{OwnerID: &ann.UserID}, storage.Order{Field: "NAME", Direction: storage.Descending}, []int64{a2.ID, a1.ID}},
			{"with a name filter too", storage.StoreFilter{OwnerID: &ann.UserID, NameContains: ptr("two")}, storage.Order{}, []int64{a2.ID}},
			{"a user with no stores", storage.StoreFilter{OwnerID: &idle.ID}, storage.Order{}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				page, err := db.ListStores(ctx, tt.filter, tt.order, storage.PageArgs{})
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				for _, s := range page.Rows {
					got = append(got, s.ID)
				}
				n, err := db.CountStores(ctx, tt.filter)
				if !slices.Equal(got, tt.want) || err != nil || n != len(tt.want) {
					t.Fatalf("stores %v, count %d (%v); want %v", got, n, err, tt.want)
				}
			})
		}
	})
}
