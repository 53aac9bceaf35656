package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestIDsAreGlobalIDs(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		st := createStore(t, s, "Global IDs")
		it := createItem(t, s, st.ID, "Thing", 1)
		for _, tc := range []struct{ what, typeName, id string }{
			{"store", storeType, st.ID}, {"item", itemType, it.ID}, {"item.store", storeType, it.Store.ID},
		} {
			if _, err := parseGlobalID(tc.typeName, tc.id); err != nil {
				t.Errorf("%s id: %v, want gid://storegraph/%s/<row>", tc.what, err, tc.typeName)
			}
		}
		if it.Store.ID != st.ID {
			t.Errorf("item.store.id = %q, want %q", it.Store.ID, st.ID)
		}

		// The first store and the first item both have row 1; their IDs differ by type.
		if rowID(t, storeType, st.ID) != rowID(t, itemType, it.ID) || st.ID == it.ID {
			t.Errorf("store %s and item %s: want the same row with different IDs", st.ID, it.ID)
		}

		// Deletes answer with the deleted object's global ID.
		doomed := createItem(t, s, st.ID, "Doomed", 1)
		var di struct{ DeleteItem string }
		s.OK(t, &di, `mutation($id: ID!) { deleteItem(id: $id) }`, vars{"id": doomed.ID})
		other := createStore(t, s, "Global IDs, deleted")
		var ds struct{ DeleteStore string }
		s.OK(t, &ds, `mutation($id: ID!) { deleteStore(id: $id) }`, vars{"id": other.ID})
		if di.DeleteItem != doomed.ID || ds.DeleteStore != other.ID {
			t.Errorf("deleteItem = %q, deleteStore = %q; want %q and %q", di.DeleteItem, ds.DeleteStore, doomed.ID, other.ID)
		}
	})
}

func TestMalformedIDsAreBadUserInput(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		st := createStore(t, s, "Malformed IDs")
		it := createItem(t, s, st.ID, "Thing", 1)

		// Every argument that names an object, with the type of object it wants.
		type argument struct {
			name, field, typeName string
			query                 func(id string) string
		}
		arguments := []argument{
			{"store(id)", "id", storeType, func(id string) string { return `{ store(id: ` + gqlString(id) + `) { id } }` }},
			{"item(id)", "id", itemType, func(id string) string { return `{ item(id: ` + gqlString(id) + `) { id } }` }},
			{"updateStore(id)", "id", storeType, func(id string) string {
				return `mutation { updateStore(id: ` + gqlString(id) + `, input: {name: "Renamed"}) { id } }`
			}},
			{"deleteStore(id)", "id", storeType, func(id string) string { return `mutation { deleteStore(id: ` + gqlString(id) + `) }` }},
			{"updateItem(id)", "id", itemType, func(id string) string {
				return `mutation { updateItem(id: ` + gqlString(id) + `, input: {name: "Renamed"}) { id } }`
			}},
			{"deleteItem(id)", "id", itemType, func(id string) string { return `mutation { deleteItem(id: ` + gqlString(id) + `) }` }},
			{"createItem(storeId)", "storeId", storeType, func(id string) string {
				return `mutation { createItem(input: {name: "X", price: 1, storeId: ` + gqlString(id) + `}) { id } }`
			}},
			{"updateItem(storeId)", "storeId", storeType, func(id string) string {
				return `mutation { updateItem(id: ` + gqlString(it.ID) + `, input: {storeId: ` + gqlString(id) + `}) { id } }`
			}},
			{"items(filter.storeId)", "storeId", storeType, func(id string) string {
				return `{ items(filter: {storeId: ` + gqlString(id) + `}) { totalCount } }`
			}},
			{"store.items(filter.storeId)", "storeId", storeType, func(id string) string {
				return `{ store(id: ` + gqlString(st.ID) + `) { items(filter: {storeId: ` + gqlString(id) + `}) { totalCount } } }`
			}},
		}

		// Malformed: not a global ID as the server writes one, whatever the wanted type.
		malformed := func(typeName string) []string {
			return []string{
				"abc", "1.5", "", "7", "0", "-5", "1 OR 1=1", // the integer ids of before issue 8 among them
				rawGlobalID(typeName, "abc"), rawGlobalID(typeName, "-1"), rawGlobalID(typeName, "007"),
				rawGlobalID(typeName, "0"), rawGlobalID(typeName, "1.5"), rawGlobalID(typeName, ""),
				rawGlobalID(typeName, "+7"), rawGlobalID(typeName, " 7"), rawGlobalID(typeName, "7/8"),
				globalIDPrefix + "7", rawGlobalID("", "7"), "gid://other/" + typeName + "/7", "GID://STOREGRAPH/" + typeName + "/7",
				globalID(typeName, 7) + " ", " " + globalID(typeName, 7),
			}
		}
		// Well formed, of another type: "Not a Store ID." (or Item) on that field.
		otherType := map[string]string{storeType: itemType, itemType: storeType}

		for _, a := range arguments {
			t.Run(a.name, func(t *testing.T) {
				for _, id := range malformed(a.typeName) {
					r := s.Do(t, a.query(id), nil)
					wantError(t, r, "BAD_USER_INPUT", a.field, malformedIDMessage(a.typeName))
				}
				wrong := []string{
					globalID(otherType[a.typeName], 1), // a row that exists, of the other type
					globalID("Shop", 1),                // a type the schema does not have
					rawGlobalID(otherType[a.typeName], "99999999999999999999"),
				}
				if a.typeName == storeType {
					wrong = append(wrong, it.ID) // the very item whose store it names
				} else {
					wrong = append(wrong, st.ID)
				}
				for _, id := range wrong {
					r := s.Do(t, a.query(id), nil)
					wantError(t, r, "BAD_USER_INPUT", a.field, wrongTypeMessage(a.typeName))
				}
			})
		}

		// Nothing was changed or created by any of it.
		if got := getItem(t, s, it.ID); got == nil || got.Name != "Thing" || got.Store.ID != st.ID {
			t.Errorf("after the refused requests, item = %+v, want it unchanged in store %s", got, st.ID)
		}
		if got := getStore(t, s, st.ID); got == nil || got.Name != "Malformed IDs" {
			t.Errorf("after the refused requests, store = %+v, want it unchanged", got)
		}
		if c := listItems(t, s, nil); c.TotalCount != 1 {
			t.Errorf("%d items after the refused requests, want 1: %v", c.TotalCount, itemIDs(c.Nodes))
		}
	})
}

// gqlString is s as a GraphQL string literal: strconv.Quote's escapes are GraphQL's for the
// ASCII the tests send.
func gqlString(s string) string { return strconv.Quote(s) }

func TestOutOfRangeIDsAreNotInternalErrors(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		// Row ids no row can have: not positive is BAD_USER_INPUT on id; positive, even
		// beyond int64, is simply no row.
		for _, tc := range []struct {
			row       string
			malformed bool
		}{
			{"0", true}, {"-5", true}, {"-99999999999999999999", true}, {"-9223372036854775808", true},
			{"9223372036854775807", false}, {"9223372036854775808", false}, {"99999999999999999999", false},
			{"99999999999999999999999", false}, {strings.Repeat("9", 200), false},
		} {
			for _, field := range []struct{ name, typeName string }{{"store", storeType}, {"item", itemType}} {
				id := rawGlobalID(field.typeName, tc.row)
				t.Run(field.name+" "+tc.row, func(t *testing.T) {
					r := s.Do(t, `query($id: ID!) { `+field.name+`(id: $id) { id } }`, vars{"id": id})
					if tc.malformed {
						wantError(t, r, "BAD_USER_INPUT", "id", malformedIDMessage(field.typeName))
						return
					}
					r.mustOK(t)
					if want := `{"` + field.name + `":null}`; string(r.Data) != want {
						t.Errorf("data = %s, want %s", r.Data, want)
					}
				})
			}
		}
	})
}

func TestMissingStoreOrItemIsNull(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		// A row that never existed, and one that did.
		st := createStore(t, s, "Soon Gone")
		it := createItem(t, s, st.ID, "Soon Gone Too", 1)
		var d struct{ DeleteStore string }
		s.OK(t, &d, `mutation($id: ID!) { deleteStore(id: $id) }`, vars{"id": st.ID})
		for _, tc := range []struct{ name, query, want string }{
			{"store", `{ store(id: "` + globalID(storeType, 987654321) + `") { id name } }`, `{"store":null}`},
			{"item", `{ item(id: "` + globalID(itemType, 987654321) + `") { id name } }`, `{"item":null}`},
			{"deleted store", `{ store(id: "` + st.ID + `") { id name } }`, `{"store":null}`},
			{"item of a deleted store", `{ item(id: "` + it.ID + `") { id name } }`, `{"item":null}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := s.Do(t, tc.query, nil)
				r.mustOK(t)
				if string(r.Data) != tc.want {
					t.Errorf("data = %s, want %s", r.Data, tc.want)
				}
			})
		}
	})
}

func TestStoreNames(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		const create = `mutation($name: String!) { createStore(input: {name: $name}) { ` + storeFields + ` } }`

		t.Run("valid names are stored trimmed", func(t *testing.T) {
			for _, tc := range []struct{ name, in, want string }{
				{"plain", "Plain Shop", "Plain Shop"},
				{"surrounding spaces", "  Trimmed Shop \t\n", "Trimmed Shop"},
				{"one character", "Q", "Q"},
				{"80 ASCII characters", strings.Repeat("a", 80), strings.Repeat("a", 80)},
				{"80 two-byte characters", strings.Repeat("é", 80), strings.Repeat("é", 80)},
				{"80 characters after trimming", "  " + strings.Repeat("b", 80) + "  ", strings.Repeat("b", 80)},
				{"inner spaces kept", "Inner   Spaces", "Inner   Spaces"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					var d struct{ CreateStore Store }
					s.OK(t, &d, create, vars{"name": tc.in})
					if d.CreateStore.Name != tc.want {
						t.Errorf("createStore(%q).name = %q, want %q", tc.in, d.CreateStore.Name, tc.want)
					}
					if got := getStore(t, s, d.CreateStore.ID); got == nil || got.Name != tc.want {
						t.Errorf("store(%s) = %+v, want name %q", d.CreateStore.ID, got, tc.want)
					}
				})
			}
		})

		t.Run("invalid names are BAD_USER_INPUT on name", func(t *testing.T) {
			for _, tc := range []struct{ name, in string }{
				{"empty", ""},
				{"spaces only", "   "},
				{"whitespace only", " \t\n "},
				{"81 ASCII characters", strings.Repeat("a", 81)},
				{"81 two-byte characters", strings.Repeat("é", 81)},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := s.Do(t, create, vars{"name": tc.in})
					wantError(t, r, "BAD_USER_INPUT", "name", "")
					if !r.dataIsNull() {
						t.Errorf("data = %s, want null", r.Data)
					}
				})
			}
			if c := listStores(t, s, vars{"filter": vars{"nameContains": strings.Repeat("a", 81)}}); c.TotalCount != 0 {
				t.Errorf("an invalid name was stored: %+v", c.Nodes)
			}
		})

		t.Run("names are unique regardless of case", func(t *testing.T) {
			const taken = "A store with that name already exists."
			corner := createStore(t, s, "Corner Shop")
			other := createStore(t, s, "Other Shop")

			for _, tc := range []struct{ name, query string }{
				{"create lower case", `mutation { createStore(input: {name: "corner shop"}) { id } }`},
				{"create upper case, padded", `mutation { createStore(input: {name: "  CORNER SHOP "}) { id } }`},
				{"create same name", `mutation { createStore(input: {name: "Corner Shop"}) { id } }`},
				{"rename another store", `mutation { updateStore(id: "` + other.ID + `", input: {name: "corner SHOP"}) { id } }`},
			} {
				t.Run(tc.name, func(t *testing.T) {
					wantError(t, s.Do(t, tc.query, nil), "CONFLICT", "", taken)
				})
			}
			if got := getStore(t, s, other.ID); got == nil || got.Name != "Other Shop" {
				t.Errorf("after a conflicting rename, store = %+v, want name %q", got, "Other Shop")
			}
			if c := listStores(t, s, vars{"filter": vars{"nameContains": "corner shop"}}); c.TotalCount != 1 {
				t.Errorf("%d stores named like corner shop, want 1", c.TotalCount)
			}

			// A store may change the case of its own name.
			var d struct{ UpdateStore Store }
			s.OK(t, &d, `mutation($id: ID!) { updateStore(id: $id, input: {name: "CORNER shop"}) { `+storeFields+` } }`, vars{"id": corner.ID})
			if d.UpdateStore.ID != corner.ID || d.UpdateStore.Name != "CORNER shop" {
				t.Errorf("updateStore = %+v, want id %s name %q", d.UpdateStore, corner.ID, "CORNER shop")
			}
		})

		t.Run("updateStore trims and validates the name", func(t *testing.T) {
			st := createStore(t, s, "Before Rename")
			const update = `mutation($id: ID!, $name: String!) { updateStore(id: $id, input: {name: $name}) { ` + storeFields + ` } }`
			var d struct{ UpdateStore Store }
			s.OK(t, &d, update, vars{"id": st.ID, "name": "  After Rename  "})
			if d.UpdateStore.Name != "After Rename" || d.UpdateStore.ID != st.ID {
				t.Errorf("updateStore = %+v, want id %s name %q", d.UpdateStore, st.ID, "After Rename")
			}
			for _, bad := range []string{"", "  ", strings.Repeat("é", 81)} {
				wantError(t, s.Do(t, update, vars{"id": st.ID, "name": bad}), "BAD_USER_INPUT", "name", "")
			}
			if got := getStore(t, s, st.ID); got == nil || got.Name != "After Rename" {
				t.Errorf("after invalid renames, store = %+v, want name %q", got, "After Rename")
			}
		})
	})
}

func TestMissingRecordsAreNotFound(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		st := createStore(t, s, "Not Found Checks")
		it := createItem(t, s, st.ID, "Survivor", 3.5)
		gone := createItem(t, s, st.ID, "Deleted Twice", 1)
		var del struct{ DeleteItem string }
		s.OK(t, &del, `mutation($id: ID!) { deleteItem(id: $id) }`, vars{"id": gone.ID})

		// A row id beyond int64 is one no row can have: it is unknown, not malformed.
		const missing, beyond = "987654321", "99999999999999999999"
		type notFoundCase struct{ name, query, field, message string }
		cases := []notFoundCase{
			{"deleteItem twice", `mutation { deleteItem(id: "` + gone.ID + `") }`, "id", "Item not found."},
		}
		for _, row := range []string{missing, beyond} {
			store, item := rawGlobalID(storeType, row), rawGlobalID(itemType, row)
			cases = append(cases, []notFoundCase{
				{"createItem in store " + row, `mutation { createItem(input: {name: "Orphan", price: 1, storeId: "` + store + `"}) { id } }`, "storeId", "Store not found."},
				{"updateItem to store " + row, `mutation { updateItem(id: "` + it.ID + `", input: {storeId: "` + store + `"}) { id } }`, "storeId", "Store not found."},
				{"updateStore " + row, `mutation { updateStore(id: "` + store + `", input: {name: "Nobody"}) { id } }`, "id", "Store not found."},
				{"deleteStore " + row, `mutation { deleteStore(id: "` + store + `") }`, "id", "Store not found."},
				{"updateItem " + row, `mutation { updateItem(id: "` + item + `", input: {name: "Nothing"}) { id } }`, "id", "Item not found."},
				{"deleteItem " + row, `mutation { deleteItem(id: "` + item + `") }`, "id", "Item not found."},
			}...)
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := s.Do(t, tc.query, nil)
				wantError(t, r, "NOT_FOUND", tc.field, tc.message)
				if !r.dataIsNull() {
					t.Errorf("data = %s, want null", r.Data)
				}
			})
		}
		if got := getItem(t, s, it.ID); got == nil || got.Store.ID != st.ID || got.Name != "Survivor" {
			t.Errorf("after failed updates, item = %+v, want it unchanged in store %s", got, st.ID)
		}
		for _, row := range []string{missing, beyond} {
			if c := listItems(t, s, vars{"filter": vars{"storeId": rawGlobalID(storeType, row)}}); c.TotalCount != 0 {
				t.Errorf("items in the missing store %s: %+v", row, c.Nodes)
			}
		}
	})
}

var timestampPattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`)

// parseTimestamp checks that v is an RFC 3339 UTC timestamp and returns it.
func parseTimestamp(t testing.TB, what, v string) time.Time {
	t.Helper()
	if !timestampPattern.MatchString(v) {
		t.Errorf("%s = %q, want an RFC 3339 timestamp in UTC ending in Z", what, v)
	}
	ts, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		t.Fatalf("%s = %q: %v", what, v, err)
	}
	return ts
}

func TestTimestamps(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		begin := time.Now().Add(-time.Minute)
		st := createStore(t, s, "Timestamped")
		it := createItem(t, s, st.ID, "Clock", 12.5)
		end := time.Now().Add(time.Minute)

		check := func(what, created, updated string) (time.Time, time.Time) {
			t.Helper()
			c := parseTimestamp(t, what+".createdAt", created)
			u := parseTimestamp(t, what+".updatedAt", updated)
			if c.Before(begin) || c.After(end) {
				t.Errorf("%s.createdAt = %s, not within a minute of the test's clock", what, created)
			}
			if u.Before(c) {
				t.Errorf("%s.updatedAt %s is before createdAt %s", what, updated, created)
			}
			return c, u
		}
		storeCreated, storeUpdated := check("createStore", st.CreatedAt, st.UpdatedAt)
		itemCreated, itemUpdated := check("createItem", it.CreatedAt, it.UpdatedAt)

		// Reading back gives the same instants as the mutation reported.
		if got := getStore(t, s, st.ID); got == nil || *got != st {
			t.Errorf("store(%s) = %+v, want %+v", st.ID, got, st)
		}
		if got := getItem(t, s, it.ID); got == nil || *got != it {
			t.Errorf("item(%s) = %+v, want %+v", it.ID, got, it)
		}

		time.Sleep(20 * time.Millisecond)

		var us struct{ UpdateStore Store }
		s.OK(t, &us, `mutation($id: ID!) { updateStore(id: $id, input: {name: "Timestamped Again"}) { `+storeFields+` } }`, vars{"id": st.ID})
		c, u := check("updateStore", us.UpdateStore.CreatedAt, us.UpdateStore.UpdatedAt)
		if !c.Equal(storeCreated) {
			t.Errorf("updateStore changed createdAt from %s to %s", st.CreatedAt, us.UpdateStore.CreatedAt)
		}
		if !u.After(storeUpdated) {
			t.Errorf("updateStore: updatedAt %s is not after the previous %s", us.UpdateStore.UpdatedAt, st.UpdatedAt)
		}
		if got := getStore(t, s, st.ID); got == nil || *got != us.UpdateStore {
			t.Errorf("store(%s) after update = %+v, want %+v", st.ID, got, us.UpdateStore)
		}

		var ui struct{ UpdateItem Item }
		s.OK(t, &ui, `mutation($id: ID!) { updateItem(id: $id, input: {price: 13}) { `+itemFields+` } }`, vars{"id": it.ID})
		c, u = check("updateItem", ui.UpdateItem.CreatedAt, ui.UpdateItem.UpdatedAt)
		if !c.Equal(itemCreated) {
			t.Errorf("updateItem changed createdAt from %s to %s", it.CreatedAt, ui.UpdateItem.CreatedAt)
		}
		if !u.After(itemUpdated) {
			t.Errorf("updateItem: updatedAt %s is not after the previous %s", ui.UpdateItem.UpdatedAt, it.UpdatedAt)
		}
		if got := getItem(t, s, it.ID); got == nil || *got != ui.UpdateItem {
			t.Errorf("item(%s) after update = %+v, want %+v", it.ID, got, ui.UpdateItem)
		}
	})
}
