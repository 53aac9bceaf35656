package storage_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/storegraph/storegraph/storage"
)

const forbiddenStore = "Only the store's owner or an admin can change it."

// people are the four kinds of writer: a store's owner, another signed-in user, an admin,
// and nobody.
type people struct {
	owner, other, admin, nobody storage.Actor
}

func makePeople(t *testing.T, db *storage.DB) people {
	t.Helper()
	boss, err := db.PromoteUser(context.Background(), mustUser(t, db, "admin@example.com").Email)
	if err != nil {
		t.Fatal(err)
	}
	return people{
		owner:  storage.Actor{UserID: mustUser(t, db, "owner@example.com").ID},
		other:  storage.Actor{UserID: mustUser(t, db, "other@example.com").ID},
		admin:  storage.Actor{UserID: boss.ID, Admin: true},
		nobody: storage.Actor{},
	}
}

type namedActor struct {
	name  string
	actor storage.Actor
}

func (p people) all() []namedActor {
	return []namedActor{{"owner", p.owner}, {"other user", p.other}, {"admin", p.admin}, {"nobody", p.nobody}}
}

// holdings is a store and its items, read back to tell whether a write changed them.
type holdings struct {
	store    *storage.Store
	storeErr error
	items    []*storage.Item
}

func holdingsOf(t *testing.T, db *storage.DB, storeID int64) holdings {
	t.Helper()
	ctx := context.Background()
	s, err := db.GetStore(ctx, storeID)
	page, lerr := db.ListItems(ctx, storage.ItemFilter{StoreID: &storeID}, storage.Order{}, storage.PageArgs{})
	if lerr != nil {
		t.Fatal(lerr)
	}
	return holdings{s, err, page.Rows}
}

func TestWritesNeedTheStoresOwnerOrAnAdmin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		p := makePeople(t, db)

		// Each write runs on a store of its own, with one item, and says what it did when allowed.
		writes := []struct {
			name string
			run  func(actor storage.Actor, storeID, itemID int64, tag string) error
			did  func(t *testing.T, before, after holdings, tag string)
		}{
			{"UpdateStore", func(a storage.Actor, storeID, _ int64, tag string) error {
				_, err := db.UpdateStore(ctx, a, storeID, "Renamed "+tag)
				return err
			}, func(t *testing.T, _, after holdings, tag string) {
				if after.store == nil || after.store.Name != "Renamed "+tag {
					t.Fatalf("store %+v, want it renamed", after.store)
				}
			}},
			{"DeleteStore", func(a storage.Actor, storeID, _ int64, _ string) error {
				return db.DeleteStore(ctx, a, storeID)
			}, func(t *testing.T, _, after holdings, _ string) {
				if !errors.Is(after.storeErr, storage.ErrNotFound) || len(after.items) != 0 {
					t.Fatalf("store %+v (%v) with %d items, want it gone with its items", after.store, after.storeErr, len(after.items))
				}
			}},
			{"CreateItem", func(a storage.Actor, storeID, _ int64, _ string) error {
				_, err := db.CreateItem(ctx, a, storage.ItemInput{Name: "New", Price: 2, StoreID: storeID})
				return err
			}, func(t *testing.T, before, after holdings, _ string) {
				if len(after.items) != len(before.items)+1 || after.items[len(after.items)-1].Name != "New" {
					t.Fatalf("items %+v, want one more, New", after.items)
				}
			}},
			{"UpdateItem", func(a storage.Actor, _, itemID int64, _ string) error {
				_, err := db.UpdateItem(ctx, a, itemID, storage.ItemPatch{Name: ptr("Renamed"), Price: ptr(9.5)})
				return err
			}, func(t *testing.T, _, after holdings, _ string) {
				if len(after.items) != 1 || after.items[0].Name != "Renamed" || after.items[0].PriceCents != 950 {
					t.Fatalf("items %+v, want the one renamed and repriced", after.items)
				}
			}},
			{"DeleteItem", func(a storage.Actor, _, itemID int64, _ string) error {
				return db.DeleteItem(ctx, a, itemID)
			}, func(t *testing.T, _, after holdings, _ string) {
				if len(after.items) != 0 || after.store == nil {
					t.Fatalf("store %+v with items %+v, want the store without its item", after.store, after.items)
				}
			}},
		}
		stores := []struct {
			name  string
			maker storage.Actor // who creates the store, and so owns it unless nobody
			owned bool
		}{
			{"owned store", p.owner, true},
			{"unowned store", asAdmin, false},
		}

		for _, w := range writes {
			for _, a := range p.all() {
				for _, st := range stores {
					allowed := a.actor.Admin || a.actor == p.owner && st.owned
					tag := fmt.Sprintf("%s by %s on %s", w.name, a.name, st.name)
					t.Run(tag, func(t *testing.T) {
						s, err := db.CreateStore(ctx, st.maker, tag)
						if err != nil {
							t.Fatal(err)
						}
						it := mustItem(t, db, s.ID, "Thing", 1)
						before := holdingsOf(t, db, s.ID)

						err = w.run(a.actor, s.ID, it.ID, tag)
						after := holdingsOf(t, db, s.ID)
						if allowed {
							if err != nil {
								t.Fatalf("refused: %v", err)
							}
							w.did(t, before, after, tag)
							return
						}
						var fe *storage.ForbiddenError
						if !errors.As(err, &fe) || fe.Message != forbiddenStore || !errors.Is(err, storage.ErrForbidden) {
							t.Fatalf("error = %#v, want ForbiddenError %q", err, forbiddenStore)
						}
						if !reflect.DeepEqual(after, before) {
							t.Fatalf("after the refusal:\n%+v\nwant unchanged:\n%+v", after, before)
						}
					})
				}
			}
		}
	})
}

func TestCreateStoreOwner(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		p := makePeople(t, db)
		tests := []struct {
			name      string
			actor     storage.Actor
			wantOwner *int64
			wantErr   error
		}{
			{"a user owns the store it makes", p.owner, &p.owner.UserID, nil},
			{"so does another", p.other, &p.other.UserID, nil},
			{"and an admin", p.admin, &p.admin.UserID, nil},
			{"an admin acting as nobody makes an unowned store", asAdmin, nil, nil},
			{"nobody may not", p.nobody, nil, &storage.ForbiddenError{Message: "Only an admin can do this."}},
			{"a user deleted meanwhile is not found", storage.Actor{UserID: 999999}, nil, &storage.NotFoundError{Resource: "User"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, err := db.CreateStore(ctx, tt.actor, tt.name)
				if tt.wantErr != nil {
					if !reflect.DeepEqual(err, tt.wantErr) || s != nil {
						t.Fatalf("got %+v, %#v; want %#v", s, err, tt.wantErr)
					}
					if n, err := db.CountStores(ctx, storage.StoreFilter{NameContains: &tt.name}); err != nil || n != 0 {
						t.Fatalf("%d stores of that name (%v), want none", n, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got, err := db.GetStore(ctx, s.ID)
				if err != nil || !reflect.DeepEqual(got.OwnerID, tt.wantOwner) || !reflect.DeepEqual(s.OwnerID, tt.wantOwner) {
					t.Fatalf("created %+v, read back %+v (%v); want owner %v", s, got, err, tt.wantOwner)
				}
			})
		}
	})
}

// A move changes two stores: the actor needs rights on both.
func TestMovingAnItemNeedsRightsOnBothStores(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		p := makePeople(t, db)
		mine := mustOwnedStore(t, db, p.owner, "Mine")
		alsoMine := mustOwnedStore(t, db, p.owner, "Also mine")
		theirs := mustOwnedStore(t, db, p.other, "Theirs")
		unowned := mustStore(t, db, "Unowned")
		missing := storage.NotFoundError{Resource: "Store", Field: "storeId"}

		tests := []struct {
			name     string
			actor    storage.Actor
			from, to int64
			rename   bool
			wantErr  any // nil, forbiddenStore or a NotFoundError
		}{
			{"the owner between its own stores", p.owner, mine.ID, alsoMine.ID, false, nil},
			{"the owner into another's store", p.owner, mine.ID, theirs.ID, false, forbiddenStore},
			{"the owner into an unowned store", p.owner, mine.ID, unowned.ID, false, forbiddenStore},
			{"the owner, renaming as it moves into another's store", p.owner, mine.ID, theirs.ID, true, forbiddenStore},
			{"the owner out of another's store into its own", p.owner, theirs.ID, mine.ID, false, forbiddenStore},
			{"the owner out of an unowned store into its own", p.owner, unowned.ID, mine.ID, false, forbiddenStore},
			{"another user into its own store", p.other, mine.ID, theirs.ID, false, forbiddenStore},
			{"nobody", p.nobody, mine.ID, alsoMine.ID, false, forbiddenStore},
			{"an admin between anyone's stores", p.admin, mine.ID, theirs.ID, false, nil},
			{"an admin into an unowned store", p.admin, theirs.ID, unowned.ID, false, nil},
			{"the owner into a missing store", p.owner, mine.ID, 999999, false, missing},
			{"another user into a missing store: not found before refused", p.other, mine.ID, 999999, false, missing},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				it := mustItem(t, db, tt.from, "Mover", 3)
				patch := storage.ItemPatch{StoreID: &tt.to}
				if tt.rename {
					patch.Name = ptr("Renamed")
				}
				got, err := db.UpdateItem(ctx, tt.actor, it.ID, patch)
				after, rerr := db.GetItem(ctx, it.ID)
				if rerr != nil {
					t.Fatal(rerr)
				}
				switch want := tt.wantErr.(type) {
				case nil:
					if err != nil || got.StoreID != tt.to || after.StoreID != tt.to {
						t.Fatalf("got %+v, %v, read back %+v; want it moved to %d", got, err, after, tt.to)
					}
					return
				case string:
					var fe *storage.ForbiddenError
					if !errors.As(err, &fe) || fe.Message != want {
						t.Fatalf("error = %#v, want ForbiddenError %q", err, want)
					}
				case storage.NotFoundError:
					var nf *storage.NotFoundError
					if !errors.As(err, &nf) || *nf != want {
						t.Fatalf("error = %#v, want %#v", err, want)
					}
				}
				if *after != *it {
					t.Fatalf("after the refusal %+v, want unchanged %+v", after, it)
				}
			})
		}
	})
}

func mustOwnedStore(t *testing.T, db *storage.DB, owner storage.Actor, name string) *storage.Store {
	t.Helper()
	s, err := db.CreateStore(context.Background(), owner, name)
	if err != nil {
		t.Fatalf("create store %q: %v", name, err)
	}
	return s
}
