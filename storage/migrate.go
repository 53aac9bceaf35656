package storage

import (
	"context"
	"fmt"
	"slices"

	"github.com/go-rel/migration"
	"github.com/go-rel/rel"

	"github.com/storegraph/storegraph/storage/migrations"
)

// MigrationStatus says whether one schema version is applied.
type MigrationStatus struct {
	Version int
	Name    string
	Applied bool
}

// Migrate applies every pending migration, oldest first, each in its own transaction.
func (db *DB) Migrate(ctx context.Context) error {
	return db.runMigrator(ctx, func(m *migration.Migration) { m.Migrate(ctx) })
}

// Rollback reverts the newest applied migration.
func (db *DB) Rollback(ctx context.Context) error {
	return db.runMigrator(ctx, func(m *migration.Migration) { m.Rollback(ctx) })
}

// MigrationStatus lists every known migration and whether it is applied. It changes nothing.
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationStatus, error) {
	exists := "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'rel_schema_versions'"
	if db.dialect == Postgres {
		exists = "SELECT count(*) AS n FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'rel_schema_versions'"
	}
	n, err := db.count(ctx, exists)
	if err != nil {
		return nil, fmt.Errorf("find schema versions: %w", err)
	}

	var applied []schemaVersion
	if n > 0 {
		if err := db.repo.FindAll(ctx, &applied, rel.SQL("SELECT version FROM rel_schema_versions")); err != nil {
			return nil, fmt.Errorf("read schema versions: %w", err)
		}
	}

	var status []MigrationStatus
	for _, m := range migrations.All(string(db.dialect)) {
		isApplied := slices.ContainsFunc(applied, func(a schemaVersion) bool { return a.Version == m.Version })
		status = append(status, MigrationStatus{Version: m.Version, Name: m.Name, Applied: isApplied})
	}
	return status, nil
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
