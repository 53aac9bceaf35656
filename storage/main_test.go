package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/dbtest"
)

// forEachBackend runs test once per real database, each on a fresh, migrated database.
func forEachBackend(t *testing.T, test func(t *testing.T, db *storage.DB)) {
	t.Helper()
	dbtest.ForEachBackend(t, discardLog, test)
}

func openMigrated(t testing.TB, url string) *storage.DB {
	t.Helper()
	return dbtest.Open(t, url, discardLog)
}

// fieldsOf returns the field names of a validation error, or fails the test.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *storage.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v, want a *storage.ValidationError", err)
	}
	var fields []string
	for _, f := range ve.Fields {
		fields = append(fields, f.Field)
	}
	return fields
}

// asAdmin is the actor of writes that only make data for a test: an admin acting as nobody,
// whose stores have no owner.
var asAdmin = storage.Actor{Admin: true}

func mustStore(t *testing.T, db *storage.DB, name string) *storage.Store {
	t.Helper()
	s, err := db.CreateStore(context.Background(), asAdmin, name)
	if err != nil {
		t.Fatalf("create store %q: %v", name, err)
	}
	return s
}

func mustItem(t *testing.T, db *storage.DB, storeID int64, name string, price float64) *storage.Item {
	t.Helper()
	it, err := db.CreateItem(context.Background(), asAdmin, storage.ItemInput{Name: name, Price: price, StoreID: storeID})
	if err != nil {
		t.Fatalf("create item %q: %v", name, err)
	}
	return it
}

func ptr[T any](v T) *T { return &v }

func mustUser(t *testing.T, db *storage.DB, email string) *storage.User {
	t.Helper()
	u, err := db.CreateUser(context.Background(), email, "hash of "+email)
	if err != nil {
		t.Fatalf("create user %q: %v", email, err)
	}
	return u
}

func mustSession(t *testing.T, db *storage.DB, userID int64, refreshHash string, expiresAt time.Time) *storage.Session {
	t.Helper()
	s, err := db.CreateSession(context.Background(), userID, refreshHash, expiresAt)
	if err != nil {
		t.Fatalf("create session of user %d: %v", userID, err)
	}
	return s
}
