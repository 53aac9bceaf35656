package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// BenchmarkResolverPath runs whole requests through the handler, gqlgen and REL against
// each database: the server's own cost, without the network.
func BenchmarkResolverPath(b *testing.B) {
	for _, backend := range storagetest.Backends {
		b.Run(backend.Name, func(b *testing.B) { benchmarkResolverPath(b, backend.New(b)) })
	}
}

func benchmarkResolverPath(b *testing.B, url string) {
	ctx := context.Background()
	db := newTestDB(b, url)
	for i := range 20 {
		s, err := db.CreateStore(ctx, adminActor, fmt.Sprintf("Store %d", i))
		if err != nil {
			b.Fatal(err)
		}
		for j := range 20 {
			if _, err := db.CreateItem(ctx, adminActor, storage.ItemInput{Name: fmt.Sprintf("Item %d", j), Price: 1.5, StoreID: s.ID}); err != nil {
				b.Fatal(err)
			}
		}
	}
	h := as(admin, NewHandler(db, discardLog(), Options{Introspection: true})) // as served by default, signed in

	for _, bc := range []struct{ name, query string }{
		{"point", `{ item(id: "gid://storegraph/Item/7") { name price } }`},
		{"nested", `{ stores(first: 20) { nodes { name items(first: 20) { nodes { name price } } } } }`},
		{"page", `{ items(first: 20, orderBy: {field: PRICE}) { edges { cursor node { name } } pageInfo { hasNextPage } } }`},
		{"write", `mutation { createItem(input: {name: "Bench", price: 9.99, storeId: "gid://storegraph/Store/1"}) { id } }`},
	} {
		body, _ := json.Marshal(map[string]string{"query": bc.query})
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, postJSON("", string(body)))
				if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
