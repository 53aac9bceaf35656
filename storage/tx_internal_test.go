package storage

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/go-rel/rel"

	"github.com/storegraph/storegraph/storage/storagetest"
)

// asAdmin is the actor of the internal tests' writes: an admin may change every store.
var asAdmin = Actor{Admin: true}

func TestReadThenWriteHoldsTheRowAgainstAConcurrentPatch(t *testing.T) {
	// A read-then-write paused between its read and its write, while another patch of a
	// different field comes in. Had the row not been held from the read on, the other patch
	// would finish in the pause and the paused one would write its stale copy over it.
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			db := openMigrated(t, b.New(t))
			st, err := db.CreateStore(ctx, asAdmin, "Shop")
			if err != nil {
				t.Fatal(err)
			}
			it, err := db.CreateItem(ctx, asAdmin, ItemInput{Name: "Lamp", Price: 1, StoreID: st.ID})
			if err != nil {
				t.Fatal(err)
			}

			read, resume := make(chan struct{}), make(chan struct{})
			paused := make(chan error, 1)
			go func() {
				var row Item
				paused <- db.readThenWrite(ctx, &row, rel.Eq("id", it.ID), true, func(context.Context) (bool, error) {
					close(read)
					<-resume
					row.PriceCents = 250
					return true, nil
				})
			}()
			<-read
			other := make(chan error, 1)
			go func() {
				_, err := db.UpdateItem(ctx, asAdmin, it.ID, ItemPatch{Name: new("Desk lamp")})
				other <- err
			}()
			// Time for the other patch to run to the end, if nothing holds it back.
			time.Sleep(300 * time.Millisecond)
			close(resume)
			if err := <-paused; err != nil {
				t.Fatalf("paused patch: %v", err)
			}
			if err := <-other; err != nil {
				t.Fatalf("other patch: %v", err)
			}

			got, err := db.GetItem(ctx, it.ID)
			if err != nil || got.Name != "Desk lamp" || got.PriceCents != 250 {
				t.Fatalf("item = %+v (%v), want both patches: name Desk lamp, 250 cents", got, err)
			}
		})
	}
}

// openMigrated opens and migrates the database at url for the package's internal tests; it
// is closed when t ends.
func openMigrated(t *testing.T, url string) *DB {
	t.Helper()
	db, err := Open(context.Background(), url, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}
