package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/go-rel/migration"
	"github.com/go-rel/rel"

	"github.com/storegraph/storegraph/storage/migrations"
)

// Migration names one schema version.
type Migration struct {
	Version int
	Name    string
}

// MigrationStatus says whether one schema version is applied.
type MigrationStatus struct {
	Migration
	Applied bool
}

// Removal is one thing that reverting a migration removes, for the person about to do it.
type Removal struct {
	Kind  string // "table", "column", "index", "sql" (a raw statement) or "code" (a Go function)
	Name  string // the table, "table.column", the index, or the SQL; "" for code
	Table string // the index's table; "" otherwise
	Rows  int64  // rows of the table (for a column: the values it holds); -1 when not counted
}

// RollbackPlan is what Rollback would do: revert Migration, removing Removes, in order.
type RollbackPlan struct {
	Migration
	Removes []Removal
}

// Migrate applies every pending migration, oldest first, each in its own transaction.
func (db *DB) Migrate(ctx context.Context) error {
	return db.runMigrator(ctx, func(m *migration.Migration) { m.Migrate(ctx) })
}

// ApplyMigrations is Migrate that also returns the migrations it applied, oldest first: after
// a failure, the ones applied before it, which stay applied.
func (db *DB) ApplyMigrations(ctx context.Context) ([]Migration, error) {
	before, err := db.MigrationStatus(ctx)
	if err != nil {
		return nil, err
	}
	migrateErr := db.Migrate(ctx)
	after, err := db.MigrationStatus(ctx)
	if err != nil {
		if migrateErr != nil {
			return nil, migrateErr
		}
		return nil, fmt.Errorf("after migrating: %w", err)
	}
	var applied []Migration
	for i, m := range after { // both in migrations.All's order
		if m.Applied && !before[i].Applied {
			applied = append(applied, m.Migration)
		}
	}
	return applied, migrateErr
}

// Rollback reverts the newest applied migration.
func (db *DB) Rollback(ctx context.Context) error {
	return db.runMigrator(ctx, func(m *migration.Migration) { m.Rollback(ctx) })
}

// PlanRollback says which migration Rollback would revert and what that removes, counting
// the rows of the tables it drops. ok is false when no migration is applied. It changes
// nothing.
func (db *DB) PlanRollback(ctx context.Context) (plan RollbackPlan, ok bool, err error) {
	newest, ok, err := db.newestApplied(ctx)
	if err != nil || !ok {
		return RollbackPlan{}, false, err
	}
	plan.Migration = newest.Migration
	var down rel.Schema
	newest.Down(&down)
	for _, step := range down.Migrations {
		removes, err := db.removals(ctx, step)
		if err != nil {
			return RollbackPlan{}, false, err
		}
		plan.Removes = append(plan.Removes, removes...)
	}
	return plan, true, nil
}

// Revert reverts m, which must still be the newest applied migration: the person confirmed
// reverting m, and another process may have migrated since they were asked.
func (db *DB) Revert(ctx context.Context, m Migration) error {
	newest, ok, err := db.newestApplied(ctx)
	if err != nil {
		return err
	}
	if !ok || newest.Version != m.Version {
		return fmt.Errorf("migration %d is no longer the newest applied one (another process migrated meanwhile); nothing reverted", m.Version)
	}
	return db.Rollback(ctx)
}

// knownMigration is a migration this build has, with its Down.
type knownMigration struct {
	Migration
	Down func(*rel.Schema)
}

// newestApplied is the migration Rollback reverts: the applied one of highest version, as
// go-rel/migration picks it. Like go-rel/migration, it refuses a database that has a version
// this build does not know, before anyone is asked to confirm.
func (db *DB) newestApplied(ctx context.Context) (knownMigration, bool, error) {
	applied, err := db.appliedVersions(ctx)
	if err != nil {
		return knownMigration{}, false, err
	}
	var newest knownMigration
	all := migrations.All(string(db.dialect))
	for _, v := range applied {
		i := slices.IndexFunc(all, func(m migrations.Migration) bool { return m.Version == v })
		if i < 0 {
			return knownMigration{}, false, fmt.Errorf("the database has migration %d, which this build does not know (migrated by a newer release?)", v)
		}
		if m := all[i]; m.Version > newest.Version {
			newest = knownMigration{Migration{m.Version, m.Name}, m.Down}
		}
	}
	return newest, newest.Version != 0, nil
}

// removals lists what one step of a Down removes. Creates and renames remove nothing and
// are left out; raw SQL and Go code are listed as they are, since what they do is unknown.
func (db *DB) removals(ctx context.Context, step rel.Migration) ([]Removal, error) {
	switch s := step.(type) {
	case rel.Table:
		return db.tableRemovals(ctx, s)
	case rel.Index:
		if s.Op == rel.SchemaDrop {
			return []Removal{{Kind: "index", Name: s.Name, Table: s.Table, Rows: -1}}, nil
		}
	case rel.Raw:
		return []Removal{{Kind: "sql", Name: string(s), Rows: -1}}, nil
	case rel.Do:
		return []Removal{{Kind: "code", Rows: -1}}, nil
	}
	return nil, nil
}

// tableRemovals lists a dropped table, or the columns an altered table drops, with the
// table's row count.
func (db *DB) tableRemovals(ctx context.Context, t rel.Table) ([]Removal, error) {
	var removes []Removal
	switch t.Op {
	case rel.SchemaDrop:
		removes = append(removes, Removal{Kind: "table", Name: t.Name})
	case rel.SchemaAlter:
		for _, d := range t.Definitions {
			if c, ok := d.(rel.Column); ok && c.Op == rel.SchemaDrop {
				removes = append(removes, Removal{Kind: "column", Name: t.Name + "." + c.Name})
			}
		}
	}
	if len(removes) == 0 {
		return nil, nil
	}
	rows, err := db.count(ctx, "SELECT count(*) AS n FROM "+quoteIdent(t.Name))
	if err != nil {
		if !t.Optional { // DROP TABLE IF EXISTS of a table that is not there
			return nil, fmt.Errorf("count the rows of %s: %w", t.Name, err)
		}
		rows = -1
	}
	for i := range removes {
		removes[i].Rows = rows
	}
	return removes, nil
}

// quoteIdent quotes a table name the same way for Postgres and SQLite.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// MigrationStatus lists every known migration and whether it is applied. It changes nothing.
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationStatus, error) {
	applied, err := db.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	var status []MigrationStatus
	for _, m := range migrations.All(string(db.dialect)) {
		status = append(status, MigrationStatus{
			Migration: Migration{Version: m.Version, Name: m.Name},
			Applied:   slices.Contains(applied, m.Version),
		})
	}
	return status, nil
}

// appliedVersions reads go-rel/migration's bookkeeping table, which a fresh database does
// not have yet (and which this does not create).
func (db *DB) appliedVersions(ctx context.Context) ([]int, error) {
	exists := "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'rel_schema_versions'"
	if db.dialect == Postgres {
		exists = "SELECT count(*) AS n FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'rel_schema_versions'"
	}
	n, err := db.count(ctx, exists)
	if err != nil {
		return nil, fmt.Errorf("find schema versions: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	var rows []schemaVersion
	if err := db.repo.FindAll(ctx, &rows, rel.SQL("SELECT version FROM rel_schema_versions")); err != nil {
		return nil, fmt.Errorf("read schema versions: %w", err)
	}
	versions := make([]int, len(rows))
	for i, r := range rows {
		versions[i] = r.Version
	}
	return versions, nil
}

// schemaVersion is a row of go-rel/migration's bookkeeping table.
type schemaVersion struct {
	Version int `db:"version"`
}

func (schemaVersion) Table() string { return "rel_schema_versions" }

func (db *DB) runMigrator(ctx context.Context, run func(*migration.Migration)) error {
	m := migration.New(db.repo)
	for _, mig := range migrations.All(string(db.dialect)) {
		m.Register(mig.Version, mig.Up, mig.Down)
	}
	return recoverMigration(func() { run(&m) })
}

// recoverMigration turns go-rel/migration's panics into errors.
func recoverMigration(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("migration: %w", e)
			} else {
				err = fmt.Errorf("migration: %v", r)
			}
		}
	}()
	fn()
	return nil
}
