package storage

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"

	"github.com/go-rel/rel"
)

// The released migrations drop tables, indexes and one column; these are the steps a Down
// may take, and what the plan says of each.
func TestRemovalsOfEachKindOfStep(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "sqlite::memory:", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateStore(ctx, asAdmin, "Only One"); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		down func(*rel.Schema)
		want []Removal
	}{
		{"drop column", func(s *rel.Schema) { s.DropColumn("stores", "name_key") },
			[]Removal{{Kind: "column", Name: "stores.name_key", Rows: 1}}},
		{"drop table if exists, absent", func(s *rel.Schema) { s.DropTableIfExists("gone") },
			[]Removal{{Kind: "table", Name: "gone", Rows: -1}}},
		{"raw SQL", func(s *rel.Schema) { s.Exec("DELETE FROM stores") },
			[]Removal{{Kind: "sql", Name: "DELETE FROM stores", Rows: -1}}},
		{"Go code", func(s *rel.Schema) { s.Do(func(context.Context, rel.Repository) error { return nil }) },
			[]Removal{{Kind: "code", Rows: -1}}},
		{"create, rename and add remove nothing", func(s *rel.Schema) {
			s.CreateTable("new", func(t *rel.Table) { t.ID("id") })
			s.RenameTable("stores", "shops")
			s.AddColumn("items", "note", rel.Text)
			s.CreateIndex("items", "items_note", []string{"note"})
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var down rel.Schema
			tc.down(&down)
			var got []Removal
			for _, step := range down.Migrations {
				r, err := db.removals(ctx, step)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r...)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("removals = %+v, want %+v", got, tc.want)
			}
		})
	}

	// A table a plain DROP TABLE names must be there: its rows cannot be counted otherwise,
	// and the revert would fail anyway.
	var down rel.Schema
	down.DropTable("gone")
	if _, err := db.removals(ctx, down.Migrations[0]); err == nil || errors.Unwrap(err) == nil {
		t.Errorf("removals of DROP TABLE gone: %v, want a wrapped count error", err)
	}
}
