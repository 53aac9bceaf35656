package e2e

// Who may change what: reading is public, writing needs a signed-in user, a store and its
// items belong to the store's owner and to admins.

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The mutations of the catalogue, with the store or item they name as variables.
const (
	updateStoreMutation = `mutation($id: ID!, $name: String!) { updateStore(id: $id, input: {name: $name}) { ` + storeFields + ` } }`
	deleteStoreMutation = `mutation($id: ID!) { deleteStore(id: $id) }`
	createItemMutation  = `mutation($s: ID!, $name: String!) { createItem(input: {name: $name, price: 1.25, storeId: $s}) { ` + itemFields + ` } }`
	renameItemMutation  = `mutation($id: ID!, $name: String!) { updateItem(id: $id, input: {name: $name, price: 0}) { ` + itemFields + ` } }`
	moveItemMutation    = `mutation($id: ID!, $s: ID!) { updateItem(id: $id, input: {storeId: $s}) { ` + itemFields + ` } }`
	deleteItemMutation  = `mutation($id: ID!) { deleteItem(id: $id) }`
	setRoleMutation     = `mutation($u: ID!, $r: Role!) { setUserRole(userId: $u, role: $r) { ` + userFields + ` } }`
	createOwnedMutation = `mutation($name: String!) { createStore(input: {name: $name}) { ` + storeFields + ` owner { ` + userFields + ` } } }`
	storeOwnerQuery     = `query($id: ID!) { store(id: $id) { id owner { id role } } }`
)

// write is one mutation with its variables.
type write struct {
	name  string
	query string
	vars  vars
}

// OwnedStore is a Store with its owner.
type OwnedStore struct {
	Store
	Owner *User `json:"owner"`
}

// createOwnedStore creates a store through s and returns it with its owner.
func createOwnedStore(t testing.TB, s *server, name string) OwnedStore {
	t.Helper()
	var d struct{ CreateStore OwnedStore }
	s.OK(t, &d, createOwnedMutation, vars{"name": name})
	return d.CreateStore
}

// storeOwner is the global ID of store id's owner, "" when it has none.
func storeOwner(t testing.TB, s *server, id string) string {
	t.Helper()
	var d struct {
		Store *struct {
			Owner *struct{ ID string }
		}
	}
	s.OK(t, &d, storeOwnerQuery, vars{"id": id})
	if d.Store == nil {
		t.Fatalf("store %s is gone", id)
	}
	if d.Store.Owner == nil {
		return ""
	}
	return d.Store.Owner.ID
}

// wantRefused sends each write through s and fails t unless each gets exactly the error
// code and message, with no data.
func wantRefused(t *testing.T, s *server, writes []write, code, message string) {
	t.Helper()
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			r := s.Do(t, w.query, w.vars)
			wantError(t, r, code, "", message)
			if !r.dataIsNull() {
				t.Errorf("data = %s, want null", r.Data)
			}
		})
	}
}

// wantSnapshot fails t unless the catalogue as s reads it is still before.
func wantSnapshot(t *testing.T, s *server, before map[string]any, after string) {
	t.Helper()
	if now := snapshot(t, s); !reflect.DeepEqual(before, now) {
		b, _ := json.MarshalIndent(before, "", "  ")
		a, _ := json.MarshalIndent(now, "", "  ")
		t.Errorf("the catalogue changed after %s.\nbefore:\n%s\nafter:\n%s", after, b, a)
	}
}

func TestAuthReadingIsPublicAndWritingNeedsSignIn(t *testing.T) {
	t.Parallel()
	eachAuthBackend(t, func(t *testing.T, s *server) {
		owner := me(t, s)
		st := createStore(t, s, "Public Reading")
		it := createItem(t, s, st.ID, "Public item", 4.5)
		anon := s.withToken("")

		if got := me(t, anon); got != nil {
			t.Errorf("me without a token = %+v, want null", got)
		}
		if got := getStore(t, anon, st.ID); got == nil || *got != st {
			t.Errorf("store(%s) without a token = %+v, want %+v", st.ID, got, st)
		}
		if got := getItem(t, anon, it.ID); got == nil || *got != it {
			t.Errorf("item(%s) without a token = %+v, want %+v", it.ID, got, it)
		}
		if got := listStores(t, anon, nil); !slices.Equal(storeIDs(got.Nodes), []string{st.ID}) {
			t.Errorf("stores without a token = %v, want [%s]", storeIDs(got.Nodes), st.ID)
		}
		if got := listItems(t, anon, nil); !slices.Equal(itemIDs(got.Nodes), []string{it.ID}) {
			t.Errorf("items without a token = %v, want [%s]", itemIDs(got.Nodes), it.ID)
		}
		var n struct{ Node *Store }
		anon.OK(t, &n, `query($id: ID!) { node(id: $id) { ... on Store { `+storeFields+` } } }`, vars{"id": st.ID})
		if n.Node == nil || *n.Node != st {
			t.Errorf("node(%s) without a token = %+v, want %+v", st.ID, n.Node, st)
		}
		if got := storeOwner(t, anon, st.ID); got != owner.ID {
			t.Errorf("store(%s).owner without a token = %q, want the creator %s", st.ID, got, owner.ID)
		}

		before := snapshot(t, s)
		wantRefused(t, anon, []write{
			{"createStore", `mutation { createStore(input: {name: "Anonymous Store"}) { id } }`, nil},
			{"updateStore", updateStoreMutation, vars{"id": st.ID, "name": "Anonymous Rename"}},
			{"deleteStore", deleteStoreMutation, vars{"id": st.ID}},
			{"createItem", createItemMutation, vars{"s": st.ID, "name": "Anonymous item"}},
			{"updateItem", renameItemMutation, vars{"id": it.ID, "name": "Anonymous rename"}},
			{"deleteItem", deleteItemMutation, vars{"id": it.ID}},
			{"logout", `mutation { logout }`, nil},
			{"logout of all sessions", `mutation { logout(allSessions: true) }`, nil},
			{"changePassword", changePasswordMutation, vars{"in": vars{"currentPassword": defaultUserPassword, "newPassword": "anonymous choice"}}},
			{"setUserRole", setRoleMutation, vars{"u": owner.ID, "r": "ADMIN"}},
		}, "UNAUTHENTICATED", signInMessage)
		wantSnapshot(t, s, before, "the anonymous writes")
		if got := me(t, s); got == nil || *got != *owner {
			t.Errorf("me after the anonymous writes = %+v, want %+v", got, owner)
		}
		login(t, anon, defaultUserEmail, defaultUserPassword) // the password is unchanged
	})
}

func TestAuthOwnersAndAdminsChangeStoresOthersAreForbidden(t *testing.T) {
	t.Parallel()
	eachAuthBackend(t, func(t *testing.T, owner *server) {
		ownerUser := me(t, owner)
		mine := createOwnedStore(t, owner, "Owner's Store")
		if mine.Owner == nil || *mine.Owner != *ownerUser {
			t.Fatalf("createStore(...).owner = %+v, want the creator %+v", mine.Owner, ownerUser)
		}
		other, otherSession := signUp(t, owner, "other@e2e.test")
		theirs := createOwnedStore(t, other, "Other's Store")
		if theirs.Owner == nil || *theirs.Owner != otherSession.User {
			t.Fatalf("createStore(...).owner = %+v, want the creator %+v", theirs.Owner, otherSession.User)
		}
		mineItem := createItem(t, owner, mine.ID, "Owner's item", 10)
		theirItem := createItem(t, other, theirs.ID, "Other's item", 20)
		before := snapshot(t, owner)

		t.Run("another user is forbidden", func(t *testing.T) {
			wantRefused(t, other, []write{
				{"updateStore", updateStoreMutation, vars{"id": mine.ID, "name": "Taken Over"}},
				{"deleteStore", deleteStoreMutation, vars{"id": mine.ID}},
				{"createItem", createItemMutation, vars{"s": mine.ID, "name": "Planted"}},
				{"updateItem", renameItemMutation, vars{"id": mineItem.ID, "name": "Renamed"}},
				{"deleteItem", deleteItemMutation, vars{"id": mineItem.ID}},
				{"move an item out of the store", moveItemMutation, vars{"id": mineItem.ID, "s": theirs.ID}},
				// Owning the item's store is not enough: the target store must be theirs too.
				{"move an own item into the store", moveItemMutation, vars{"id": theirItem.ID, "s": mine.ID}},
				{"move and rename an own item into the store", `mutation($id: ID!, $s: ID!) { updateItem(id: $id, input: {name: "Sneaked In", storeId: $s}) { id } }`,
					vars{"id": theirItem.ID, "s": mine.ID}},
			}, "FORBIDDEN", ownerOnlyMessage)
			wantSnapshot(t, owner, before, "the forbidden writes")
		})

		t.Run("missing rows stay not found", func(t *testing.T) {
			missingStore, missingItem := globalID(storeType, 987654321), globalID(itemType, 987654321)
			for _, tc := range []struct {
				write
				field, message string
			}{
				{write{"updateStore", updateStoreMutation, vars{"id": missingStore, "name": "Nobody's"}}, "id", "Store not found."},
				{write{"deleteStore", deleteStoreMutation, vars{"id": missingStore}}, "id", "Store not found."},
				{write{"createItem", createItemMutation, vars{"s": missingStore, "name": "Orphan"}}, "storeId", "Store not found."},
				{write{"updateItem", renameItemMutation, vars{"id": missingItem, "name": "Nothing"}}, "id", "Item not found."},
				{write{"deleteItem", deleteItemMutation, vars{"id": missingItem}}, "id", "Item not found."},
				{write{"move an own item to a missing store", moveItemMutation, vars{"id": theirItem.ID, "s": missingStore}}, "storeId", "Store not found."},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := other.Do(t, tc.query, tc.vars)
					wantError(t, r, "NOT_FOUND", tc.field, tc.message)
				})
			}
			wantSnapshot(t, owner, before, "the writes to missing rows")
		})

		t.Run("the owner moves items between own stores", func(t *testing.T) {
			second := createStore(t, owner, "Owner's Second Store")
			var d struct{ UpdateItem Item }
			owner.OK(t, &d, moveItemMutation, vars{"id": mineItem.ID, "s": second.ID})
			if d.UpdateItem.Store.ID != second.ID {
				t.Errorf("moved item's store = %s, want %s", d.UpdateItem.Store.ID, second.ID)
			}
			owner.OK(t, &d, moveItemMutation, vars{"id": mineItem.ID, "s": mine.ID})
			if d.UpdateItem.Store.ID != mine.ID {
				t.Errorf("item moved back: store %s, want %s", d.UpdateItem.Store.ID, mine.ID)
			}
		})

		t.Run("an admin changes anyone's", func(t *testing.T) {
			admin, adminSession := signUp(t, owner, "admin@e2e.test")
			wantRefused(t, admin, []write{ // a new account is a USER
				{"updateStore before promotion", updateStoreMutation, vars{"id": mine.ID, "name": "Too Early"}},
			}, "FORBIDDEN", ownerOnlyMessage)
			promote(t, admin, "admin@e2e.test")

			var us struct{ UpdateStore Store }
			admin.OK(t, &us, updateStoreMutation, vars{"id": mine.ID, "name": "Renamed by Admin"})
			if us.UpdateStore.Name != "Renamed by Admin" {
				t.Errorf("admin's updateStore = %+v", us.UpdateStore)
			}
			var ui struct{ UpdateItem Item }
			admin.OK(t, &ui, `mutation($id: ID!, $s: ID!) { updateItem(id: $id, input: {name: "Admin's Pick", price: 21.5, storeId: $s}) { `+itemFields+` } }`,
				vars{"id": theirItem.ID, "s": mine.ID})
			if got := ui.UpdateItem; got.Name != "Admin's Pick" || got.Price != 21.5 || got.Store.ID != mine.ID {
				t.Errorf("admin's move of %s = %+v, want it named Admin's Pick at 21.5 in %s", theirItem.ID, got, mine.ID)
			}
			var ci struct{ CreateItem Item }
			admin.OK(t, &ci, createItemMutation, vars{"s": theirs.ID, "name": "Admin's item"})
			var di struct{ DeleteItem string }
			admin.OK(t, &di, deleteItemMutation, vars{"id": mineItem.ID})
			var ds struct{ DeleteStore string }
			admin.OK(t, &ds, deleteStoreMutation, vars{"id": theirs.ID})
			adminStore := createOwnedStore(t, admin, "Admin's Store")
			wantAdmin := adminSession.User
			wantAdmin.Role = "ADMIN"
			if adminStore.Owner == nil || *adminStore.Owner != wantAdmin {
				t.Errorf("admin's createStore(...).owner = %+v, want the admin %s", adminStore.Owner, adminSession.User.ID)
			}

			// Read back: what the admin did happened, and ownership stayed where it was.
			if got := storeOwner(t, owner, mine.ID); got != ownerUser.ID {
				t.Errorf("owner of %s after the admin's rename = %q, want %s", mine.ID, got, ownerUser.ID)
			}
			if got := getStore(t, owner, mine.ID); got == nil || got.Name != "Renamed by Admin" {
				t.Errorf("store(%s) = %+v, want it named Renamed by Admin", mine.ID, got)
			}
			if got := getItem(t, owner, theirItem.ID); got == nil || *got != ui.UpdateItem {
				t.Errorf("item(%s) = %+v, want %+v", theirItem.ID, got, ui.UpdateItem)
			}
			for _, id := range []string{mineItem.ID, ci.CreateItem.ID} {
				if got := getItem(t, owner, id); got != nil {
					t.Errorf("item(%s) = %+v, want it deleted", id, got)
				}
			}
			if got := getStore(t, owner, theirs.ID); got != nil {
				t.Errorf("store(%s) = %+v, want it deleted", theirs.ID, got)
			}
			// Rights follow the item's store, not who made the item.
			wantRefused(t, other, []write{
				{"updateItem of an own item now in another's store", renameItemMutation, vars{"id": theirItem.ID, "name": "Mine Again"}},
			}, "FORBIDDEN", ownerOnlyMessage)
			var own struct{ UpdateItem Item }
			owner.OK(t, &own, renameItemMutation, vars{"id": theirItem.ID, "name": "Owner's Now"})
		})
	})
}

func TestAuthStoresWithoutOwnerAreForAdminsOnly(t *testing.T) {
	t.Parallel()
	eachAuthBackend(t, func(t *testing.T, owner *server) {
		st := createStore(t, owner, "Pre-Accounts Store")
		it := createItem(t, owner, st.ID, "Pre-accounts item", 3)
		// Stores made before accounts existed have no owner; only SQL can make one now.
		res, err := openDB(t, owner).Exec("UPDATE stores SET owner_id = NULL WHERE id = " + strconv.FormatInt(rowID(t, storeType, st.ID), 10))
		if err != nil {
			t.Fatalf("clear the owner: %v", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			t.Fatalf("clear the owner: %d rows, %v; want 1 row", n, err)
		}
		for name, s := range map[string]*server{"anonymous": owner.withToken(""), "former owner": owner} {
			if got := storeOwner(t, s, st.ID); got != "" {
				t.Errorf("%s: store(%s).owner = %q, want null", name, st.ID, got)
			}
		}

		before := snapshot(t, owner)
		wantRefused(t, owner, []write{
			{"updateStore", updateStoreMutation, vars{"id": st.ID, "name": "Claimed"}},
			{"deleteStore", deleteStoreMutation, vars{"id": st.ID}},
			{"createItem", createItemMutation, vars{"s": st.ID, "name": "Planted"}},
			{"updateItem", renameItemMutation, vars{"id": it.ID, "name": "Renamed"}},
			{"deleteItem", deleteItemMutation, vars{"id": it.ID}},
		}, "FORBIDDEN", ownerOnlyMessage)
		wantSnapshot(t, owner, before, "the former owner's writes")

		admin, _ := signUp(t, owner, "admin@e2e.test")
		promote(t, admin, "admin@e2e.test")
		var us struct{ UpdateStore Store }
		admin.OK(t, &us, updateStoreMutation, vars{"id": st.ID, "name": "Kept by Admins"})
		if got := storeOwner(t, admin, st.ID); got != "" {
			t.Errorf("store(%s).owner after the admin's rename = %q, want still null", st.ID, got)
		}
		var ci struct{ CreateItem Item }
		admin.OK(t, &ci, createItemMutation, vars{"s": st.ID, "name": "Admin's item"})
		var ui struct{ UpdateItem Item }
		admin.OK(t, &ui, renameItemMutation, vars{"id": it.ID, "name": "Renamed by Admin"})
		var di struct{ DeleteItem string }
		admin.OK(t, &di, deleteItemMutation, vars{"id": ci.CreateItem.ID})
		if got := getItem(t, owner, it.ID); got == nil || got.Name != "Renamed by Admin" || got.Price != 0 {
			t.Errorf("item(%s) = %+v, want Renamed by Admin at 0", it.ID, got)
		}
		var ds struct{ DeleteStore string }
		admin.OK(t, &ds, deleteStoreMutation, vars{"id": st.ID})
		if got := getStore(t, owner, st.ID); got != nil {
			t.Errorf("store(%s) = %+v, want it deleted", st.ID, got)
		}
	})
}

func TestAuthSetUserRoleIsForAdminsAndTakesEffectWithinASecond(t *testing.T) {
	t.Parallel()
	eachAuthBackend(t, func(t *testing.T, owner *server) {
		ownerUser := me(t, owner)
		st := createStore(t, owner, "Role Store")
		user, userSession := signUp(t, owner, "user@e2e.test")
		admin, _ := signUp(t, owner, "boss@e2e.test")
		promote(t, admin, "boss@e2e.test")

		// A USER sets no roles, not another's, not their own.
		wantRefused(t, user, []write{
			{"another's role", setRoleMutation, vars{"u": ownerUser.ID, "r": "ADMIN"}},
			{"own role", setRoleMutation, vars{"u": userSession.User.ID, "r": "ADMIN"}},
		}, "FORBIDDEN", adminOnlyMessage)
		for name, s := range map[string]*server{"owner": owner, "user": user} {
			if got := me(t, s); got == nil || got.Role != "USER" {
				t.Errorf("%s after the refused setUserRole: me = %+v, want role USER", name, got)
			}
		}
		wantError(t, admin.Do(t, setRoleMutation, vars{"u": globalID(userType, 987654321), "r": "ADMIN"}), "NOT_FOUND", "userId", "User not found.")
		// The only admin cannot make itself a user: nobody could give a role again.
		boss := me(t, admin)
		wantError(t, admin.Do(t, setRoleMutation, vars{"u": boss.ID, "r": "USER"}), "CONFLICT", "",
			"That user is the last admin: make another user an admin first.")
		if got := me(t, admin); got == nil || got.Role != "ADMIN" {
			t.Errorf("the last admin after the refused demotion: me = %+v, want role ADMIN", got)
		}
		for _, tc := range []struct{ name, id, message string }{
			{"a store's ID", st.ID, "Not a User ID."},
			{"a malformed ID", "user-7", `Not a valid ID: expected a global ID such as "` + globalID(userType, 7) + `".`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, admin.Do(t, setRoleMutation, vars{"u": tc.id, "r": "ADMIN"}), "BAD_USER_INPUT", "userId", tc.message)
			})
		}

		var d struct{ SetUserRole User }
		admin.OK(t, &d, setRoleMutation, vars{"u": userSession.User.ID, "r": "ADMIN"})
		want := userSession.User
		want.Role = "ADMIN"
		if d.SetUserRole != want {
			t.Errorf("setUserRole(ADMIN) = %+v, want %+v", d.SetUserRole, want)
		}
		waitForAdmin(t, user)
		var us struct{ UpdateStore Store }
		user.OK(t, &us, updateStoreMutation, vars{"id": st.ID, "name": "Renamed While Admin"})

		admin.OK(t, &d, setRoleMutation, vars{"u": userSession.User.ID, "r": "USER"})
		if want.Role = "USER"; d.SetUserRole != want {
			t.Errorf("setUserRole(USER) = %+v, want %+v", d.SetUserRole, want)
		}
		// The demoted user's writes are refused within a second; until then they may pass.
		var last *response
		attempt := 0
		refused := eventually(revocationDelay, func() bool {
			attempt++
			last = user.Do(t, updateStoreMutation, vars{"id": st.ID, "name": fmt.Sprintf("Demotion Probe %d", attempt)})
			return len(last.Errors) > 0
		})
		if !refused {
			t.Fatalf("the demoted user's updateStore still succeeds %v after the demotion", revocationDelay)
		}
		wantError(t, last, "FORBIDDEN", "", ownerOnlyMessage)
		name := getStore(t, owner, st.ID).Name
		wantRefused(t, user, []write{
			{"updateStore after demotion", updateStoreMutation, vars{"id": st.ID, "name": "Demoted Rename"}},
		}, "FORBIDDEN", ownerOnlyMessage)
		if got := getStore(t, owner, st.ID); got.Name != name {
			t.Errorf("store name after the refused rename = %q, want %q", got.Name, name)
		}
		if got := me(t, user); got == nil || got.Role != "USER" {
			t.Errorf("me after the demotion = %+v, want role USER", got)
		}
	})
}

func TestAuthUserEmailIsVisibleToTheUserAndAdminsOnly(t *testing.T) {
	t.Parallel()
	eachAuthBackend(t, func(t *testing.T, owner *server) {
		ownerUser := me(t, owner)
		if _, err := parseGlobalID(userType, ownerUser.ID); err != nil {
			t.Errorf("me.id: %v", err)
		}
		first, second := createStore(t, owner, "Email Store A"), createStore(t, owner, "Email Store B")
		other, otherSession := signUp(t, owner, "nosy@e2e.test")
		otherStore := createStore(t, other, "Nosy's Store")
		admin, _ := signUp(t, owner, "admin@e2e.test")
		promote(t, admin, "admin@e2e.test")
		anon := owner.withToken("")

		type userNode struct {
			ID        string  `json:"id"`
			Email     *string `json:"email"`
			Role      string  `json:"role"`
			CreatedAt string  `json:"createdAt"`
			Stores    struct {
				TotalCount int     `json:"totalCount"`
				Nodes      []Store `json:"nodes"`
			} `json:"stores"`
		}
		const publicUser = `id ... on User { role createdAt stores { totalCount nodes { ` + storeFields + ` } } }`
		const withEmail = `id ... on User { email role createdAt stores { totalCount nodes { ` + storeFields + ` } } }`
		wantOwner := func(t *testing.T, who string, got *userNode, email bool) {
			t.Helper()
			switch {
			case got == nil:
				t.Errorf("%s: node(%s) = null", who, ownerUser.ID)
			case got.ID != ownerUser.ID || got.Role != "USER" || got.CreatedAt != ownerUser.CreatedAt:
				t.Errorf("%s: node(%s) = %+v, want %+v", who, ownerUser.ID, got, ownerUser)
			case email && (got.Email == nil || *got.Email != defaultUserEmail):
				t.Errorf("%s: node(%s).email = %v, want %q", who, ownerUser.ID, got.Email, defaultUserEmail)
			case got.Stores.TotalCount != 2 || !slices.Equal(storeIDs(got.Stores.Nodes), []string{first.ID, second.ID}):
				t.Errorf("%s: node(%s).stores = %d %v, want 2 [%s %s]", who, ownerUser.ID, got.Stores.TotalCount, storeIDs(got.Stores.Nodes), first.ID, second.ID)
			}
		}
		for who, s := range map[string]*server{"self": owner, "admin": admin} {
			var d struct{ Node *userNode }
			s.OK(t, &d, `query($id: ID!) { node(id: $id) { `+withEmail+` } }`, vars{"id": ownerUser.ID})
			wantOwner(t, who, d.Node, true)
		}
		for who, s := range map[string]*server{"another user": other, "anonymous": anon} {
			var d struct{ Node *userNode }
			s.OK(t, &d, `query($id: ID!) { node(id: $id) { `+publicUser+` } }`, vars{"id": ownerUser.ID})
			wantOwner(t, who, d.Node, false)
		}

		for _, tc := range []struct {
			who           string
			s             *server
			code, message string
			query         string
			path          []any
		}{
			{"another user, node", other, "FORBIDDEN", emailHiddenMessage, `query($id: ID!) { node(id: $id) { ... on User { email } } }`, []any{"node", "email"}},
			{"anonymous, node", anon, "UNAUTHENTICATED", signInMessage, `query($id: ID!) { node(id: $id) { ... on User { email } } }`, []any{"node", "email"}},
			{"another user, Store.owner", other, "FORBIDDEN", emailHiddenMessage, `query($s: ID!) { store(id: $s) { owner { email } } }`, []any{"store", "owner", "email"}},
			{"anonymous, Store.owner", anon, "UNAUTHENTICATED", signInMessage, `query($s: ID!) { store(id: $s) { owner { email } } }`, []any{"store", "owner", "email"}},
		} {
			t.Run(tc.who, func(t *testing.T) {
				r := tc.s.Do(t, tc.query, vars{"id": ownerUser.ID, "s": first.ID})
				wantError(t, r, tc.code, "", tc.message)
				if len(r.Errors) == 1 && !reflect.DeepEqual(r.Errors[0].Path, tc.path) {
					t.Errorf("error path %v, want %v", r.Errors[0].Path, tc.path)
				}
				if strings.Contains(r.Body, defaultUserEmail) {
					t.Errorf("the answer shows the email: %s", r.Body)
				}
			})
		}

		var mine struct{ Me User }
		other.OK(t, &mine, meQuery, nil)
		if mine.Me != otherSession.User {
			t.Errorf("another user's me = %+v, want %+v", mine.Me, otherSession.User)
		}
		var both struct {
			Nodes []struct {
				ID string `json:"id"`
			}
		}
		other.OK(t, &both, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, vars{"ids": []string{otherSession.User.ID, first.ID, ownerUser.ID}})
		if len(both.Nodes) != 3 || both.Nodes[0].ID != otherSession.User.ID || both.Nodes[1].ID != first.ID || both.Nodes[2].ID != ownerUser.ID {
			t.Errorf("nodes(user, store, user) = %+v", both.Nodes)
		}
		var page struct {
			Node struct {
				Stores Connection[Store] `json:"stores"`
			}
		}
		owner.OK(t, &page, `query($id: ID!) { node(id: $id) { ... on User { stores(first: 1) { `+connectionFields(storeFields)+` } } } }`, vars{"id": ownerUser.ID})
		if got := page.Node.Stores; !slices.Equal(storeIDs(got.Nodes), []string{first.ID}) || !got.PageInfo.HasNextPage || got.TotalCount != 2 {
			t.Errorf("stores(first: 1) of the owner = %v, hasNextPage %v, totalCount %d; want [%s], true, 2", storeIDs(got.Nodes), got.PageInfo.HasNextPage, got.TotalCount, first.ID)
		}
		var theirs struct{ Node userNode }
		anon.OK(t, &theirs, `query($id: ID!) { node(id: $id) { `+publicUser+` } }`, vars{"id": otherSession.User.ID})
		if got := storeIDs(theirs.Node.Stores.Nodes); !slices.Equal(got, []string{otherStore.ID}) {
			t.Errorf("stores of %s = %v, want [%s]", otherSession.User.ID, got, otherStore.ID)
		}
		var missing struct{ Node *userNode }
		owner.OK(t, &missing, `query($id: ID!) { node(id: $id) { id } }`, vars{"id": globalID(userType, 987654321)})
		if missing.Node != nil {
			t.Errorf("node of a missing user = %+v, want null", missing.Node)
		}
	})
}
