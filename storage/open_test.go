package storage_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/storage"
)

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestOpenRefusesUnknownURLsWithoutLeakingThem(t *testing.T) {
	tests := []struct {
		url     string
		wantMsg string
	}{
		{"mysql://root:s3cret@db/app", `unsupported DATABASE_URL: scheme "mysql" (want postgres://, postgresql:// or sqlite:PATH)`},
		{"s3cret", `unsupported DATABASE_URL: scheme "(none)" (want postgres://, postgresql:// or sqlite:PATH)`},
		{"sqlite:", "unsupported DATABASE_URL: sqlite: needs a file path or :memory:"},
		{"postgres://u:s3cret@host:port/db", "unsupported DATABASE_URL: malformed postgres URL"},
		{"postgres://u:s3cret@host/db?sslmode=sometimes", "unsupported DATABASE_URL: postgres URL parameters not understood"},
	}
	for _, tt := range tests {
		t.Run(tt.wantMsg, func(t *testing.T) {
			_, err := storage.Open(context.Background(), tt.url, discardLog)
			if !errors.Is(err, storage.ErrUnsupportedURL) || err.Error() != tt.wantMsg {
				t.Fatalf("error = %v, want %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatal("the error repeats the password")
			}
		})
	}
}

func TestOpenSQLiteVariants(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		url  string
	}{
		{"file", "sqlite:" + dir + "/a.db"},
		{"in memory", "sqlite::memory:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openMigrated(t, tt.url)
			if db.Dialect() != storage.SQLite {
				t.Fatalf("dialect = %s", db.Dialect())
			}
			// Foreign keys must be on in every variant, or items could outlive stores. CreateItem
			// looks for the store first: only a write behind its back meets the key itself.
			err := db.ExecForTest(context.Background(), "INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at) VALUES (77, 'x', 'x', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
			if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
				t.Fatalf("item without store: error = %v, want the foreign key's refusal", err)
			}
		})
	}
}

func TestOpenPostgresThatIsNotThereFails(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := storage.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", discardLog); err == nil {
		t.Fatal("opened a database that does not exist")
	}
}
