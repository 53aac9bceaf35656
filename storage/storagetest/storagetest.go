// Package storagetest gives tests their own empty databases on the real backends: a fresh
// Postgres schema (on the server named by TEST_DATABASE_URL) or a fresh SQLite file.
// Postgres being unreachable fails the test; it never skips.
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// DefaultAdminURL is the Postgres server on this project's machines; scripts/test exports
// TEST_DATABASE_URL when it starts one of its own.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// AdminURL is the Postgres URL tests connect through to create their schemas.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// Backend is one database a test runs against.
type Backend struct {
	Name string
	// New returns the DATABASE_URL of a new, empty database that is removed when tb ends.
	New func(tb testing.TB) string
}

// Backends are the databases every storage behaviour is checked on.
var Backends = []Backend{
	{Name: "postgres", New: NewPostgres},
	{Name: "sqlite", New: NewSQLite},
}

// NewPostgres creates an empty schema and returns a URL whose search_path selects it. The
// schema and everything in it is dropped when tb ends.
func NewPostgres(tb testing.TB) string {
	tb.Helper()
	admin := AdminURL()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	db, err := sql.Open("pgx", admin)
	if err != nil {
		tb.Fatalf("open %s: %v", admin, err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		tb.Fatalf("Postgres is not reachable at %s (run the tests with scripts/test, which starts one): %v", admin, err)
	}

	schema := "test_" + randomHex(8)
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			tb.Errorf("open %s: %v", admin, err)
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("parse %s: %v", admin, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// NewSQLite returns the URL of a SQLite file in a directory removed when tb ends.
func NewSQLite(tb testing.TB) string {
	tb.Helper()
	return "sqlite:" + filepath.Join(tb.TempDir(), "test.db")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
