package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// concurrently runs fn(0) … fn(n-1) in goroutines released at the same moment and returns
// their responses in order. A transport failure fails t.
func concurrently(t *testing.T, n int, fn func(i int) (*response, error)) []*response {
	t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		out   = make([]*response, n)
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			out[i], errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return out
}

func TestConcurrentCreateStoreWithOneName(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		const n = 20
		rs := concurrently(t, n, func(i int) (*response, error) {
			name := "Rush Hour Shop"
			if i%2 == 1 {
				name = strings.ToUpper(name) // the same name, ignoring case
			}
			return s.Post(t, `mutation($name: String!) { createStore(input: {name: $name}) { id name } }`, vars{"name": name})
		})
		var created []string
		conflicts := 0
		for i, r := range rs {
			switch {
			case len(r.Errors) == 0:
				var d struct{ CreateStore Store }
				r.decode(t, &d)
				created = append(created, d.CreateStore.ID)
			case len(r.Errors) == 1 && r.Errors[0].Extensions.Code == "CONFLICT" && r.Errors[0].Message == "A store with that name already exists.":
				conflicts++
			default:
				t.Errorf("request %d: errors %v, want success or one CONFLICT", i, r.Errors)
			}
		}
		if len(created) != 1 || conflicts != n-1 {
			t.Errorf("%d successes %v and %d conflicts, want 1 and %d", len(created), created, conflicts, n-1)
		}
		c := listStores(t, s, vars{"filter": vars{"nameContains": "rush hour shop"}})
		if c.TotalCount != 1 || len(created) == 1 && (len(c.Nodes) != 1 || c.Nodes[0].ID != created[0]) {
			t.Errorf("stores named like it: %v (totalCount %d), want only %v", storeIDs(c.Nodes), c.TotalCount, created)
		}
	})
}

func TestConcurrentCreateItemsInOneStore(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		st := createStore(t, s, "Busy Store")
		const n = 50
		rs := concurrently(t, n, func(i int) (*response, error) {
			return s.Post(t, `mutation($in: CreateItemInput!) { createItem(input: $in) { id name price store { id } } }`,
				vars{"in": vars{"name": fmt.Sprintf("Item %02d", i), "price": float64(i) + 0.5, "storeId": st.ID}})
		})
		seen := map[string]bool{}
		for i, r := range rs {
			if len(r.Errors) != 0 {
				t.Errorf("createItem %d: errors %v", i, r.Errors)
				continue
			}
			var d struct{ CreateItem Item }
			r.decode(t, &d)
			it := d.CreateItem
			if seen[it.ID] {
				t.Errorf("id %s handed out twice", it.ID)
			}
			seen[it.ID] = true
			if it.Name != fmt.Sprintf("Item %02d", i) || it.Price != float64(i)+0.5 || it.Store.ID != st.ID {
				t.Errorf("createItem %d = %+v", i, it)
			}
		}
		c := listItems(t, s, vars{"filter": vars{"storeId": st.ID}, "first": 100})
		if c.TotalCount != n || len(c.Nodes) != n {
			t.Errorf("store has totalCount %d and %d nodes, want %d", c.TotalCount, len(c.Nodes), n)
		}
		for _, it := range c.Nodes {
			if !seen[it.ID] {
				t.Errorf("listed item %s was not created by this test", it.ID)
			}
		}
	})
}

func TestCreateItemsWhileTheirStoreIsDeleted(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		const creates = 30
		for round := range 3 {
			t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
				st := createStore(t, s, fmt.Sprintf("Doomed %d", round))
				// Some items exist before the race starts.
				for i := range 3 {
					createItem(t, s, st.ID, fmt.Sprintf("Early %d", i), 1)
				}
				// Request `deleteAt` is the deleteStore, in the middle of the creates.
				deleteAt := creates / 2
				rs := concurrently(t, creates+1, func(i int) (*response, error) {
					if i == deleteAt {
						return s.Post(t, `mutation($id: ID!) { deleteStore(id: $id) }`, vars{"id": st.ID})
					}
					return s.Post(t, `mutation($in: CreateItemInput!) { createItem(input: $in) { id store { id } } }`,
						vars{"in": vars{"name": fmt.Sprintf("Racer %d", i), "price": 2, "storeId": st.ID}})
				})

				var d struct{ DeleteStore string }
				if del := rs[deleteAt]; len(del.Errors) != 0 {
					t.Fatalf("deleteStore: errors %v", del.Errors)
				} else if json.Unmarshal(del.Data, &d); d.DeleteStore != st.ID {
					t.Errorf("deleteStore returned %s, want %q", del.Data, st.ID)
				}

				var created []string
				notFound := 0
				for i, r := range rs {
					if i == deleteAt {
						continue
					}
					switch {
					case len(r.Errors) == 0:
						var d struct{ CreateItem Item }
						r.decode(t, &d)
						created = append(created, d.CreateItem.ID)
					case len(r.Errors) == 1 && r.Errors[0].Extensions.Code == "NOT_FOUND" && r.Errors[0].Message == "Store not found.":
						notFound++
					default:
						t.Errorf("createItem %d: errors %v, want success or NOT_FOUND Store not found.", i, r.Errors)
					}
				}
				t.Logf("%d creates succeeded, %d found the store gone", len(created), notFound)

				// Nothing survives without its store.
				if got := getStore(t, s, st.ID); got != nil {
					t.Errorf("store(%s) = %+v after deleteStore, want null", st.ID, got)
				}
				for _, id := range created {
					if got := getItem(t, s, id); got != nil {
						t.Errorf("item(%s) survived its store: %+v", id, got)
					}
				}
				if c := listItems(t, s, vars{"filter": vars{"storeId": st.ID}}); c.TotalCount != 0 {
					t.Errorf("items(storeId: %s).totalCount = %d, want 0: %v", st.ID, c.TotalCount, itemIDs(c.Nodes))
				}
				if c := listItems(t, s, nil); c.TotalCount != 0 {
					t.Errorf("items.totalCount = %d, want 0 (every store is deleted): %v", c.TotalCount, itemIDs(c.Nodes))
				}
			})
		}
	})
}
