package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage/storagetest"
)

const (
	loadClients  = 64
	loadDuration = 20 * time.Second
	loadStores   = 8
)

// loadItem is an item as its owning client last wrote it.
type loadItem struct {
	Name  string
	Cents int64
	Store string
}

// loadTally is what one client saw.
type loadTally struct {
	requests  int
	failures  []string // every answer other than a clean success, described
	latencies []time.Duration
	owned     map[string]loadItem // id -> last acknowledged state; only its client writes it
}

func TestLoadOf64ClientsLosesNoWriteAndNeverFails(t *testing.T) {
	databaseURL := storagetest.NewPostgres(t)
	// The server runs with the race detector: a data race under load fails the test.
	s := startServerWith(t, "postgres", databaseURL, serverOptions{race: true, noExitCheck: true})

	var stores []string
	for i := range loadStores {
		stores = append(stores, createStore(t, s, fmt.Sprint("Load ", i)).ID)
	}

	ctx, cancel := context.WithTimeout(context.Background(), loadDuration)
	defer cancel()
	tallies := make([]*loadTally, loadClients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range loadClients {
		tallies[c] = &loadTally{owned: map[string]loadItem{}}
		wg.Go(func() { loadClient(ctx, s, c, stores, tallies[c]) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	var (
		requests  int
		failures  []string
		latencies []time.Duration
		want      = map[string]loadItem{}
	)
	for _, tl := range tallies {
		requests += tl.requests
		failures = append(failures, tl.failures...)
		latencies = append(latencies, tl.latencies...)
		for id, it := range tl.owned {
			want[id] = it
		}
	}
	slices.Sort(latencies)
	t.Logf("%d clients, %v: %d requests (%.0f/s), latency p50 %v p99 %v max %v, %d failures, %d items expected",
		loadClients, elapsed.Round(time.Millisecond), requests, float64(requests)/elapsed.Seconds(),
		latencies[len(latencies)/2], latencies[len(latencies)*99/100], latencies[len(latencies)-1], len(failures), len(want))
	if len(failures) > 0 {
		t.Errorf("%d requests failed, the first: %s", len(failures), strings.Join(failures[:min(5, len(failures))], "\n"))
	}

	// Every acknowledged write, and nothing else, is in the database.
	got := loadRows(t, databaseURL)
	for id, w := range want {
		if g, ok := got[id]; !ok {
			t.Errorf("item %s (%+v) was acknowledged but is not stored", id, w)
		} else if g != w {
			t.Errorf("item %s is stored as %+v, want %+v as last acknowledged", id, g, w)
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("item %s (%+v) is stored but no acknowledged write left it there", id, g)
		}
	}

	if code := s.Terminate(t, 30*time.Second); code != 0 || strings.Contains(s.Stderr(), "DATA RACE") {
		t.Fatalf("server exit code %d, want 0 and no data race:\n%s", code, s.Stderr())
	}
}

// loadClient mixes reads and writes until ctx ends. It owns the items it creates: only it
// updates or deletes them, so it knows their exact state and checks every read of them.
func loadClient(ctx context.Context, s *server, c int, stores []string, tl *loadTally) {
	rng := rand.New(rand.NewPCG(uint64(c), 42))
	var (
		ids    []string // owned, in creation order
		cursor string
		n      int
	)
	// call sends one request; it reports the response only if it was a clean success.
	call := func(query string, variables map[string]any, out any) bool {
		start := time.Now()
		r, err := s.GraphQL(context.WithoutCancel(ctx), query, variables)
		tl.requests++
		tl.latencies = append(tl.latencies, time.Since(start))
		switch {
		case err != nil:
			tl.failures = append(tl.failures, fmt.Sprintf("client %d: %v", c, err))
		case r.Status != http.StatusOK || len(r.Errors) > 0:
			tl.failures = append(tl.failures, fmt.Sprintf("client %d: %d %.300s", c, r.Status, r.Raw))
		default:
			if out != nil {
				if err := json.Unmarshal(r.Data, out); err != nil {
					tl.failures = append(tl.failures, fmt.Sprintf("client %d: decode %s: %v", c, r.Data, err))
					return false
				}
			}
			return true
		}
		return false
	}
	mismatch := func(what string, got, want any) {
		tl.failures = append(tl.failures, fmt.Sprintf("client %d: %s: got %+v, want %+v", c, what, got, want))
	}
	type wireItem struct {
		ID    string
		Name  string
		Price float64
		Store struct{ ID string }
	}
	asLoadItem := func(w wireItem) loadItem {
		return loadItem{Name: w.Name, Cents: int64(w.Price*100 + 0.5), Store: w.Store.ID}
	}

	for ctx.Err() == nil {
		n++
		op := rng.IntN(100)
		if len(ids) == 0 {
			op = 0
		}
		switch {
		case op < 25: // create
			cents := rng.Int64N(10_000_000)
			want := loadItem{Name: fmt.Sprintf("c%d-%d", c, n), Cents: cents, Store: stores[rng.IntN(len(stores))]}
			var out struct{ CreateItem wireItem }
			if call(`mutation($n: String!, $p: Float!, $s: ID!) { createItem(input: {name: $n, price: $p, storeId: $s}) { id name price store { id } } }`,
				map[string]any{"n": want.Name, "p": float64(cents) / 100, "s": want.Store}, &out) {
				if got := asLoadItem(out.CreateItem); got != want {
					mismatch("created", got, want)
				}
				tl.owned[out.CreateItem.ID] = want
				ids = append(ids, out.CreateItem.ID)
			}
		case op < 40: // partial update of one or more fields
			id := ids[rng.IntN(len(ids))]
			want := tl.owned[id]
			input := map[string]any{}
			if rng.IntN(2) == 0 {
				want.Name = fmt.Sprintf("c%d-%d-renamed", c, n)
				input["name"] = want.Name
			}
			if rng.IntN(2) == 0 {
				want.Cents = rng.Int64N(10_000_000)
				input["price"] = float64(want.Cents) / 100
			}
			if rng.IntN(3) == 0 {
				want.Store = stores[rng.IntN(len(stores))]
				input["storeId"] = want.Store
			}
			var out struct{ UpdateItem wireItem }
			if call(`mutation($id: ID!, $in: UpdateItemInput!) { updateItem(id: $id, input: $in) { id name price store { id } } }`,
				map[string]any{"id": id, "in": input}, &out) {
				if got := asLoadItem(out.UpdateItem); got != want {
					mismatch("updated "+id, got, want)
				}
				tl.owned[id] = want
			}
		case op < 45: // delete
			i := rng.IntN(len(ids))
			id := ids[i]
			var out struct{ DeleteItem string }
			if call(`mutation($id: ID!) { deleteItem(id: $id) }`, map[string]any{"id": id}, &out) {
				if out.DeleteItem != id {
					mismatch("deleted", out.DeleteItem, id)
				}
				delete(tl.owned, id)
				ids = slices.Delete(ids, i, i+1)
			}
		case op < 65: // read an own item back
			id := ids[rng.IntN(len(ids))]
			var out struct{ Item wireItem }
			if call(`query($id: ID!) { item(id: $id) { id name price store { id } } }`, map[string]any{"id": id}, &out) {
				if got, want := asLoadItem(out.Item), tl.owned[id]; got != want {
					mismatch("read "+id, got, want)
				}
			}
		case op < 80: // a filtered, ordered listing with its count
			call(`query($s: ID!) { items(first: 20, filter: {storeId: $s, minPrice: 10}, orderBy: {field: PRICE, direction: DESC}) {
				totalCount pageInfo { hasNextPage endCursor } nodes { id name price } } }`,
				map[string]any{"s": stores[rng.IntN(len(stores))]}, nil)
		case op < 90: // stores with some of their items
			call(`{ stores(first: 10, orderBy: {field: NAME}) { totalCount nodes { id name items(first: 5) { totalCount nodes { id price } } } } }`, nil, nil)
		default: // walk all items page by page
			var out struct {
				Items struct {
					PageInfo struct {
						HasNextPage bool
						EndCursor   string
					}
				}
			}
			variables := map[string]any{}
			if cursor != "" {
				variables["after"] = cursor
			}
			if call(`query($after: String) { items(first: 25, after: $after) { pageInfo { hasNextPage endCursor } nodes { id } } }`, variables, &out) {
				cursor = out.Items.PageInfo.EndCursor
				if !out.Items.PageInfo.HasNextPage {
					cursor = ""
				}
			}
		}
	}
}

// loadRows reads every item straight from the database, by global ID (and with its store's).
func loadRows(t *testing.T, databaseURL string) map[string]loadItem {
	t.Helper()
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, name, price_cents, store_id FROM items`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]loadItem{}
	for rows.Next() {
		var (
			id, store int64
			it        loadItem
		)
		if err := rows.Scan(&id, &it.Name, &it.Cents, &store); err != nil {
			t.Fatal(err)
		}
		it.Store = globalID(storeType, store)
		got[globalID(itemType, id)] = it
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}
