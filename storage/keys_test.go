package storage_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// Every process on one database signs with one key: two *DB on the same database stand for
// two processes, and their first calls race.
func TestSigningKeyIsMadeOnceForTheDatabase(t *testing.T) {
	for _, b := range storagetest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := b.New(t)
			dbs := []*storage.DB{openMigrated(t, url), openMigrated(t, url)}

			const n = 8
			var (
				wg    sync.WaitGroup
				keys  = make([][]byte, n)
				errs  = make([]error, n)
				start = make(chan struct{})
			)
			for i := range n {
				wg.Go(func() {
					<-start
					keys[i], errs[i] = dbs[i%2].SigningKey(ctx)
				})
			}
			close(start)
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("first call %d: %v", i, errs[i])
				}
				if len(keys[i]) != 32 || !bytes.Equal(keys[i], keys[0]) {
					t.Fatalf("first call %d: key of %d bytes, %x; want the 32 bytes all got: %x", i, len(keys[i]), keys[i], keys[0])
				}
			}

			for _, tt := range []struct {
				name string
				db   *storage.DB
			}{
				{"again", dbs[0]},
				{"from the other DB", dbs[1]},
				{"from a DB opened later", openMigrated(t, url)},
			} {
				if key, err := tt.db.SigningKey(ctx); err != nil || !bytes.Equal(key, keys[0]) {
					t.Errorf("%s: %x (%v), want %x", tt.name, key, err, keys[0])
				}
			}
		})
	}
}

func TestSigningKeyThatIsNotBase64IsAnErrorWithoutTheValue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if err := db.ExecForTest(ctx, "INSERT INTO settings (name, value) VALUES ('jwt_signing_key', 'n0t*base64*s3cret')"); err != nil {
			t.Fatal(err)
		}
		key, err := db.SigningKey(ctx)
		if err == nil || err.Error() != "setting jwt_signing_key is not base64" || key != nil {
			t.Fatalf("got %x, %v; want the error naming the setting only", key, err)
		}
	})
}
