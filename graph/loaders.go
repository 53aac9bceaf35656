package graph

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/storegraph/storegraph/storage"
)

// loaders batch the nested reads of one request (gqlgen's dataloader pattern, with
// vikstrous/dataloadgen). Each loader caches by key for the request.
//
// Waiting for a batch to fill costs latency on every nested level and splits batches when
// the machine is busy, so lists go further: a page of stores or items registers its rows as
// a sibling group, and the first nested field of a group loads it for every sibling in one
// statement and primes the loader, where the other siblings find their value. The loaders'
// own timed batching then serves only lone parents (store(id) { items }, say).
type loaders struct {
	db     *storage.DB
	ready  sync.Once // the rest is made on first use: most requests never nest
	stores *dataloadgen.Loader[int64, *storage.Store]
	users  *dataloadgen.Loader[int64, *storage.User]

	mu          sync.Mutex
	storeGroups map[int64]*group // store id -> the store page it was listed in
	itemGroups  map[int64]*group // item id -> the item page it was listed in
	ownerGroups map[int64]*group // user id -> the store page it owns a store of
	known       map[int64]bool   // store ids primed into stores
	itemPages   map[argsKey]*dataloadgen.Loader[int64, storage.Page[*storage.Item]]
	itemCounts  map[argsKey]*dataloadgen.Loader[int64, int]
	storePages  map[argsKey]*dataloadgen.Loader[int64, storage.Page[*storage.Store]]
	storeCounts map[argsKey]*dataloadgen.Loader[int64, int]
	done        map[groupKey]func() error // one sync.OnceValue per batched load

	// replay and replayCount are what the fast path's root field and the root connection's
	// totalCount resolved to, which gqlgen is answered with if the fast path gives the
	// operation up (fastpath.go). Both are written before gqlgen starts and only read after.
	replay, replayCount replayed
}

// replayed is a resolver's result; of is the object it was resolved on.
type replayed struct {
	set   bool
	of    any
	value any
	err   error
}

// replayRoot answers the operation's root field with the fast path's result for it, if the
// fast path fetched it, else with resolve's.
func replayRoot[T any](ctx context.Context, resolve func() (T, error)) (T, error) {
	if r := loadersFor(ctx).replay; r.set {
		v, _ := r.value.(T)
		return v, r.err
	}
	return resolve()
}

// replayCount is replayRoot for the totalCount of the root field's connection c.
func replayCount(ctx context.Context, c any, count func() (int, error)) (int, error) {
	if r := loadersFor(ctx).replayCount; r.set && r.of == c {
		return r.value.(int), r.err
	}
	return count()
}

// group is the ids of the stores one page holds (or whose items it holds), and of the
// users who own the stores of a store page.
type group struct{ storeIDs, ownerIDs []int64 }

// groupKey names one batched load of a group: which field, with which arguments.
type groupKey struct {
	field string
	args  argsKey
	g     *group
}

// batchWait is how long a lone parent's load waits for company.
const batchWait = time.Millisecond

func newLoaders(db *storage.DB) *loaders {
	return &loaders{db: db}
}

func (l *loaders) init() {
	l.ready.Do(func() {
		l.stores = dataloadgen.NewMappedLoader(l.db.GetStores, dataloadgen.WithWait(batchWait))
		l.users = dataloadgen.NewMappedLoader(l.db.GetUsers, dataloadgen.WithWait(batchWait))
		l.storeGroups = map[int64]*group{}
		l.itemGroups = map[int64]*group{}
		l.ownerGroups = map[int64]*group{}
		l.known = map[int64]bool{}
		l.itemPages = map[argsKey]*dataloadgen.Loader[int64, storage.Page[*storage.Item]]{}
		l.itemCounts = map[argsKey]*dataloadgen.Loader[int64, int]{}
		l.storePages = map[argsKey]*dataloadgen.Loader[int64, storage.Page[*storage.Store]]{}
		l.storeCounts = map[argsKey]*dataloadgen.Loader[int64, int]{}
		l.done = map[groupKey]func() error{}
	})
}

type loadersKey struct{}

func withLoaders(ctx context.Context, l *loaders) context.Context {
	return context.WithValue(ctx, loadersKey{}, l)
}

// loadersFor returns the request's loaders, which NewHandler puts in every request's context.
func loadersFor(ctx context.Context) *loaders {
	return ctx.Value(loadersKey{}).(*loaders)
}

// addStorePage registers a page of stores, and their owners, as siblings and primes the
// store loader. A store or owner keeps the first group it was listed in: its siblings there
// may already be loading its nested fields, and a later group's load would run again for it.
func (l *loaders) addStorePage(stores []*storage.Store) {
	l.addStores(stores, true)
}

// addStores is addStorePage, with owners as siblings only if withOwners: the stores of a
// batch of users are one page for what is nested in them, but their owners are those users,
// who are being resolved as a batch of their own.
func (l *loaders) addStores(stores []*storage.Store, withOwners bool) {
	l.init()
	g := &group{storeIDs: make([]int64, len(stores))}
	owners := map[int64]bool{}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, s := range stores {
		g.storeIDs[i] = s.ID
		if s.OwnerID != nil && !owners[*s.OwnerID] {
			owners[*s.OwnerID] = true
			g.ownerIDs = append(g.ownerIDs, *s.OwnerID)
			if withOwners && l.ownerGroups[*s.OwnerID] == nil {
				l.ownerGroups[*s.OwnerID] = g
			}
		}
		if l.storeGroups[s.ID] == nil {
			l.storeGroups[s.ID] = g
		}
		l.known[s.ID] = true
		l.stores.Prime(s.ID, s)
	}
}

// addUsers registers users asked for together (by nodes) as siblings for loading their
// stores, unless a page of stores made them siblings before.
func (l *loaders) addUsers(ids []int64) {
	l.init()
	g := &group{ownerIDs: ids}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if l.ownerGroups[id] == nil {
			l.ownerGroups[id] = g
		}
	}
}

// addItemPage registers a page of items as siblings for loading their stores.
func (l *loaders) addItemPage(items []*storage.Item) {
	l.init()
	g := &group{}
	seen := map[int64]bool{}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, it := range items {
		if !seen[it.StoreID] {
			seen[it.StoreID] = true
			g.storeIDs = append(g.storeIDs, it.StoreID)
		}
		l.itemGroups[it.ID] = g
	}
}

// loadGroup runs load once for the group and key, however many siblings ask; siblings that
// ask while it runs wait for it and share its error.
func (l *loaders) loadGroup(k groupKey, load func() error) error {
	l.mu.Lock()
	once, ok := l.done[k]
	if !ok {
		once = sync.OnceValue(load)
		l.done[k] = once
	}
	l.mu.Unlock()
	return once()
}

// store returns an item's store.
func (l *loaders) store(ctx context.Context, it *storage.Item) (*storage.Store, error) {
	l.init()
	l.mu.Lock()
	g := l.itemGroups[it.ID]
	l.mu.Unlock()
	if g != nil {
		err := l.loadGroup(groupKey{field: "Item.store", g: g}, func() error {
			l.mu.Lock()
			var missing []int64
			for _, id := range g.storeIDs {
				if !l.known[id] {
					missing = append(missing, id)
				}
			}
			l.mu.Unlock()
			if len(missing) == 0 {
				return nil
			}
			stores, err := l.db.GetStores(ctx, missing)
			if err != nil {
				return err
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			for id, s := range stores {
				l.known[id] = true
				l.stores.Prime(id, s)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	s, err := l.stores.Load(ctx, it.StoreID)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		// The store was deleted between reading the item and reading its store.
		return nil, &storage.NotFoundError{Resource: "Store"}
	}
	return s, err
}

// owner returns a store's owner, nil for a store without one (or whose owner is gone).
func (l *loaders) owner(ctx context.Context, s *storage.Store) (*storage.User, error) {
	if s.OwnerID == nil {
		return nil, nil
	}
	l.init()
	l.mu.Lock()
	g := l.storeGroups[s.ID]
	l.mu.Unlock()
	if g != nil {
		err := l.loadGroup(groupKey{field: "Store.owner", g: g}, func() error {
			users, err := l.db.GetUsers(ctx, g.ownerIDs)
			for id, u := range users {
				l.users.Prime(id, u)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return l.user(ctx, *s.OwnerID)
}

// user returns the user with the given id, nil when there is none.
func (l *loaders) user(ctx context.Context, id int64) (*storage.User, error) {
	l.init()
	u, err := l.users.Load(ctx, id)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

// items returns one store's page of items.
func (l *loaders) items(ctx context.Context, storeID int64, f storage.ItemFilter, o storage.Order, p storage.PageArgs) (storage.Page[*storage.Item], error) {
	l.init()
	return byParent(ctx, l, l.itemPages, l.storeGroups, storesOf, "Store.items", pageKey(f, o, p), storeID,
		func(ctx context.Context, ids []int64) (map[int64]storage.Page[*storage.Item], error) {
			return l.db.ListItemsByStore(ctx, ids, f, o, p)
		})
}

// itemCount counts one store's items that match f.
func (l *loaders) itemCount(ctx context.Context, storeID int64, f storage.ItemFilter) (int, error) {
	l.init()
	return byParent(ctx, l, l.itemCounts, l.storeGroups, storesOf, "ItemConnection.totalCount", filterKey(f), storeID,
		func(ctx context.Context, ids []int64) (map[int64]int, error) {
			return l.db.CountItemsByStore(ctx, ids, f)
		})
}

// ownedStores returns one user's page of the stores it owns. The pages of a batch are one
// page of stores for what is nested in them (their items, their owners).
func (l *loaders) ownedStores(ctx context.Context, userID int64, p storage.PageArgs) (storage.Page[*storage.Store], error) {
	l.init()
	return byParent(ctx, l, l.storePages, l.ownerGroups, ownersOf, "User.stores", pageKey(storage.ItemFilter{}, storage.Order{}, p), userID,
		func(ctx context.Context, ids []int64) (map[int64]storage.Page[*storage.Store], error) {
			pages, err := l.db.ListStoresByOwner(ctx, ids, storage.StoreFilter{}, storage.Order{}, p)
			if err != nil {
				return nil, err
			}
			var all []*storage.Store
			for _, id := range ids {
				all = append(all, pages[id].Rows...)
			}
			l.addStores(all, false)
			return pages, nil
		})
}

// ownedStoreCount counts one user's stores that match f.
func (l *loaders) ownedStoreCount(ctx context.Context, userID int64, f storage.StoreFilter) (int, error) {
	l.init()
	return byParent(ctx, l, l.storeCounts, l.ownerGroups, ownersOf, "User.stores.totalCount", argsKey{nameContains: optionalOf(f.NameContains)}, userID,
		func(ctx context.Context, ids []int64) (map[int64]int, error) {
			return l.db.CountStoresByOwner(ctx, ids, f)
		})
}

// storesOf and ownersOf are the parents a group lists: its stores, or their owners.
func storesOf(g *group) []int64 { return g.storeIDs }
func ownersOf(g *group) []int64 { return g.ownerIDs }

// byParent returns one parent's value of a read that fetch does for many parents at once. A
// parent listed in a group (groups maps a parent's id to it; siblings picks the group's
// parents of this kind) is served by one fetch for the whole group; a lone parent by the
// loader for these arguments (args), which batches whatever lone parents ask together.
func byParent[V any](ctx context.Context, l *loaders, loaders map[argsKey]*dataloadgen.Loader[int64, V], groups map[int64]*group,
	siblings func(*group) []int64, field string, args argsKey, id int64, fetch func(context.Context, []int64) (map[int64]V, error)) (V, error) {
	l.mu.Lock()
	loader, ok := loaders[args]
	if !ok {
		loader = dataloadgen.NewMappedLoader(fetch, dataloadgen.WithWait(batchWait))
		loaders[args] = loader
	}
	g := groups[id]
	l.mu.Unlock()

	if g != nil {
		err := l.loadGroup(groupKey{field: field, args: args, g: g}, func() error {
			values, err := fetch(ctx, siblings(g))
			for id, v := range values {
				loader.Prime(id, v)
			}
			return err
		})
		if err != nil {
			var zero V
			return zero, err
		}
	}
	return loader.Load(ctx, id)
}

// argsKey is the arguments of a per-parent read as a map key; the parent's id is left out,
// since it is the key within the loader. Its fields are the arguments' values, compared as they
// are: nothing is formatted, so a key costs what its arguments cost to copy.
type argsKey struct {
	nameContains, after, before optional[string]
	minPrice, maxPrice          optional[float64]
	first, last                 optional[int]
	order                       storage.Order
	skipNext, skipPrevious      bool
}

// optional is a pointer argument as a comparable value.
type optional[T comparable] struct {
	set   bool
	value T
}

func optionalOf[T comparable](p *T) optional[T] {
	if p == nil {
		return optional[T]{}
	}
	return optional[T]{true, *p}
}

func filterKey(f storage.ItemFilter) argsKey {
	return argsKey{nameContains: optionalOf(f.NameContains), minPrice: optionalOf(f.MinPrice), maxPrice: optionalOf(f.MaxPrice)}
}

func pageKey(f storage.ItemFilter, o storage.Order, p storage.PageArgs) argsKey {
	k := filterKey(f)
	k.order = o
	k.first, k.after, k.last, k.before = optionalOf(p.First), optionalOf(p.After), optionalOf(p.Last), optionalOf(p.Before)
	k.skipNext, k.skipPrevious = p.SkipHasNextPage, p.SkipHasPreviousPage
	return k
}
