package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/storagetest"
)

// The cascade is the database's, not DeleteStore's: a store deleted by any client, here by
// raw SQL behind the storage API's back, takes its items with it.
func TestDatabaseDeletesAStoresItemsWithIt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		doomed := mustStore(t, db, "Doomed")
		kept := mustStore(t, db, "Kept")
		gone := []*storage.Item{mustItem(t, db, doomed.ID, "Gone", 1), mustItem(t, db, doomed.ID, "Also gone", 2)}
		stays := mustItem(t, db, kept.ID, "Stays", 3)

		if err := db.ExecForTest(ctx, fmt.Sprintf("DELETE FROM stores WHERE id = %d", doomed.ID)); err != nil {
			t.Fatalf("raw delete of a store with items: %v", err)
		}

		for _, it := range gone {
			if got, err := db.GetItem(ctx, it.ID); got != nil || !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("item %d of the deleted store: got %+v, %v; want nil, not found", it.ID, got, err)
			}
		}
		if n, err := db.CountItems(ctx, storage.ItemFilter{StoreID: &doomed.ID}); err != nil || n != 0 {
			t.Fatalf("items of the deleted store = %d (%v), want 0", n, err)
		}
		if got, err := db.GetItem(ctx, stays.ID); err != nil || got.Name != "Stays" {
			t.Fatalf("item of the other store: got %+v, %v; want it kept", got, err)
		}
		if n, err := db.CountItems(ctx, storage.ItemFilter{}); err != nil || n != 1 {
			t.Fatalf("items left = %d (%v), want 1", n, err)
		}
	})
}

// Not parallel: it changes the working directory.
func TestUnsetDatabaseURLIsSQLiteFileDataDBInTheWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)

	db, err := storage.Open(context.Background(), "", discardLog)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if db.Dialect() != storage.SQLite {
		t.Fatalf("dialect = %q, want %q", db.Dialect(), storage.SQLite)
	}
	if storage.DefaultDatabaseURL != "sqlite:data.db" {
		t.Fatalf("DefaultDatabaseURL = %q, want sqlite:data.db", storage.DefaultDatabaseURL)
	}
	if fi, err := os.Stat(filepath.Join(dir, "data.db")); err != nil || fi.Size() == 0 {
		t.Fatalf("data.db in the working directory: %v, %v; want a non-empty file", fi, err)
	}
	// The migrated schema is in that file: a second connection to it sees the tables.
	again, err := storage.Open(context.Background(), "sqlite:"+filepath.Join(dir, "data.db"), discardLog)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer again.Close()
	if n, err := again.CountStores(context.Background(), storage.StoreFilter{}); err != nil || n != 0 {
		t.Fatalf("stores in data.db = %d (%v), want 0", n, err)
	}
}

func TestPostgresqlSchemeOpensPostgres(t *testing.T) {
	url := storagetest.NewPostgres(t)
	if rest, ok := strings.CutPrefix(url, "postgres://"); ok {
		url = "postgresql://" + rest
	}
	if !strings.HasPrefix(url, "postgresql://") {
		t.Fatalf("test URL %q has neither scheme", url)
	}
	db := openMigrated(t, url)
	if db.Dialect() != storage.Postgres {
		t.Fatalf("dialect = %q, want %q", db.Dialect(), storage.Postgres)
	}
	s := mustStore(t, db, "Corner Shop")
	if got, err := db.GetStore(context.Background(), s.ID); err != nil || got.Name != "Corner Shop" {
		t.Fatalf("store read back = %+v (%v), want Corner Shop", got, err)
	}
	var version string
	if err := db.Pool().QueryRow("SHOW server_version").Scan(&version); err != nil || version == "" {
		t.Fatalf("SHOW server_version = %q (%v): not a Postgres server", version, err)
	}
}

// Each pragma is a property of a connection, not of the file: it is checked on several
// connections of the pool held at once, so that each one is seen to be set up.
func TestSQLiteConnectionsRunWithWALForeignKeysAndABusyTimeout(t *testing.T) {
	tests := []struct {
		name        string
		url         string
		conns       int
		journalMode string
	}{
		{"file", "sqlite:" + filepath.Join(t.TempDir(), "p.db"), 3, "wal"},
		// WAL needs a file; in memory, only the other two apply.
		{"in memory", "sqlite::memory:", 1, "memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			db := openMigrated(t, tt.url)
			for i := range tt.conns {
				conn, err := db.Pool().Conn(ctx)
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				defer conn.Close()
				pragmas := []struct {
					pragma string
					want   string
				}{
					{"journal_mode", tt.journalMode},
					{"foreign_keys", "1"},
					{"busy_timeout", "5000"},
				}
				for _, p := range pragmas {
					var got string
					if err := conn.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil || got != p.want {
						t.Errorf("connection %d: PRAGMA %s = %q (%v), want %q", i, p.pragma, got, err, p.want)
					}
				}
			}
		})
	}
}

func TestPoolSizeDefaultsAndOverride(t *testing.T) {
	tests := []struct {
		name string
		url  func(testing.TB) string
		pool []storage.Pool
		want int
	}{
		{"postgres by default", storagetest.NewPostgres, nil, 20},
		{"postgres with zero Pool fields", storagetest.NewPostgres, []storage.Pool{{}}, 20},
		{"postgres with MaxOpen", storagetest.NewPostgres, []storage.Pool{{MaxOpen: 5}}, 5},
		{"sqlite file by default", storagetest.NewSQLite, nil, 8},
		{"sqlite file with MaxOpen", storagetest.NewSQLite, []storage.Pool{{MaxOpen: 5}}, 5},
		{"sqlite in memory", func(testing.TB) string { return "sqlite::memory:" }, nil, 1},
		{"sqlite in memory ignores MaxOpen", func(testing.TB) string { return "sqlite::memory:" }, []storage.Pool{{MaxOpen: 5}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := storage.Open(context.Background(), tt.url(t), discardLog, tt.pool...)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer db.Close()
			if got := db.Pool().Stats().MaxOpenConnections; got != tt.want {
				t.Fatalf("MaxOpenConnections = %d, want %d", got, tt.want)
			}
		})
	}
}
