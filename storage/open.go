// Package storage holds the catalogue's data: REL entities for stores and items and for the
// accounts and sessions that own and change them, the queries over them, who may write what
// (authz.go), the versioned schema migrations, and the mapping of database failures to the
// sentinel errors in errors.go. It knows nothing of GraphQL or HTTP.
package storage

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-rel/postgres"
	"github.com/go-rel/rel"
	"github.com/go-rel/sqlite3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/stdlib"
)

// Dialect names the SQL database behind a DB.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DefaultDatabaseURL is used when DATABASE_URL is unset: a SQLite file in the working
// directory, so the server runs with no setup.
const DefaultDatabaseURL = "sqlite:data.db"

// ErrUnsupportedURL is returned by Open for a DATABASE_URL it cannot serve.
var ErrUnsupportedURL = errors.New("unsupported DATABASE_URL")

func init() {
	// REL stamps created_at/updated_at with rel.Now, which truncates to whole seconds by
	// default; keep the microseconds both databases can store, in UTC.
	rel.Now = func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
}

// DB is the catalogue's store: a REL repository over Postgres or SQLite.
type DB struct {
	repo    rel.Repository
	sql     *sql.DB
	dialect Dialect

	// writeTurn is held by the one write of this process in progress on SQLite (see write);
	// nil on Postgres, whose writers lock rows, not the database.
	writeTurn chan struct{}

	// dsn is the Postgres connection string, for the connections ListenEvents keeps outside
	// the pool.
	dsn string
	log *slog.Logger
	// After every write, commits wakes this DB's ListenEvents on SQLite; on Postgres,
	// notifier wakes every process's.
	commits  *commitListeners
	notifier *eventNotifier
	closing  sync.Once
}

// Pool sizes the connection pool. Zero fields keep the defaults: 20 connections for
// Postgres, 8 for a SQLite file (one writer at a time; the rest read beside it under WAL),
// recycled after 30 minutes. An in-memory SQLite database always has exactly one.
type Pool struct {
	MaxOpen     int
	MaxIdle     int
	MaxLifetime time.Duration
}

// Open connects to the database named by databaseURL ("" means DefaultDatabaseURL):
// "sqlite:PATH", "sqlite::memory:", "postgres://…" or "postgresql://…". It does not migrate.
func Open(ctx context.Context, databaseURL string, log *slog.Logger, pool ...Pool) (*DB, error) {
	if databaseURL == "" {
		databaseURL = DefaultDatabaseURL
	}
	dialect, dsn, err := parseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	var size Pool
	if len(pool) > 0 {
		size = pool[0]
	}

	var (
		sqlDB   *sql.DB
		adapter rel.Adapter
	)
	switch dialect {
	case Postgres:
		// postgres.Open would look for the lib/pq driver; open pgx ourselves.
		if sqlDB, err = openPostgres(dsn); err != nil {
			return nil, err
		}
		sizePool(sqlDB, size, 20)
		adapter = postgres.New(sqlDB)
	case SQLite:
		if sqlDB, err = sql.Open("sqlite3", dsn); err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		if strings.Contains(dsn, ":memory:") {
			// Every connection to :memory: is a database of its own: keep exactly one, forever.
			sqlDB.SetMaxOpenConns(1)
			sqlDB.SetConnMaxLifetime(0)
			sqlDB.SetConnMaxIdleTime(0)
		} else {
			sizePool(sqlDB, size, 8)
		}
		adapter = sqlite3.New(sqlDB)
	}

	repo := rel.New(adapter)
	repo.Instrumentation(instrumentation(log))
	db := &DB{repo: repo, sql: sqlDB, dialect: dialect, log: log}
	switch dialect {
	case Postgres:
		db.dsn = dsn
	case SQLite:
		db.writeTurn = make(chan struct{}, 1)
		db.commits = &commitListeners{}
	}

	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pingCtx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("connect to %s: %w", dialect, err)
	}
	if dialect == Postgres {
		db.notifier = startEventNotifier(sqlDB, eventsChannel(dsn), log)
	}
	return db, nil
}

// openPostgres opens a pgx pool whose cancelled statements are cancelled in Postgres too.
// By default pgx only drops the connection when a context ends, and a backend waiting for a
// lock does not notice that: it would run the statement later, for a client long gone (a
// request cut short by its timeout or by shutdown could still commit). A CancelRequest
// stops it, and the statement returns only once Postgres has said so.
func openPostgres(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors quote the URL, password redacted only on a best-effort basis.
		return nil, fmt.Errorf("%w: postgres URL parameters not understood", ErrUnsupportedURL)
	}
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		// The deadline bounds the wait for a server that does not answer the cancel.
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: time.Second}
	}
	return stdlib.OpenDB(*cfg), nil
}

func sizePool(db *sql.DB, p Pool, defaultOpen int) {
	maxOpen := cmp.Or(p.MaxOpen, defaultOpen)
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(cmp.Or(p.MaxIdle, maxOpen))
	db.SetConnMaxLifetime(cmp.Or(p.MaxLifetime, 30*time.Minute))
}

// stmtCacheSize is how many prepared statements each SQLite connection keeps (the driver's
// _stmt_cache_size). REL sends every statement as text, which the driver otherwise prepares
// and finalizes at each call; preparing an insert into items compiles the event log's trigger
// too, and that came to about 40 µs of a write's 300 µs turn on the write lock. The statements
// REL generates are few dozen texts, so 64 keeps them all, at a few KB each per connection.
const stmtCacheSize = 64

// parseURL turns a DATABASE_URL into a dialect and a driver DSN.
func parseURL(databaseURL string) (Dialect, string, error) {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		if _, err := url.Parse(databaseURL); err != nil {
			// url.Error quotes the whole URL, password included: say only what is wrong.
			return "", "", fmt.Errorf("%w: malformed postgres URL", ErrUnsupportedURL)
		}
		return Postgres, databaseURL, nil
	case strings.HasPrefix(databaseURL, "sqlite:"):
		path := strings.TrimPrefix(databaseURL, "sqlite:")
		if path == "" {
			return "", "", fmt.Errorf("%w: sqlite: needs a file path or :memory:", ErrUnsupportedURL)
		}
		// Foreign keys are off by default in SQLite; WAL lets readers run beside the writer;
		// the busy timeout makes writers queue instead of failing; immediate transactions
		// take the write lock up front, so a read-then-write transaction cannot deadlock.
		// Each connection keeps its last stmtCacheSize statements prepared.
		params := "_foreign_keys=on&_busy_timeout=5000&_txlock=immediate&_stmt_cache_size=" + strconv.Itoa(stmtCacheSize)
		if path == ":memory:" {
			return SQLite, "file::memory:?" + params, nil
		}
		return SQLite, "file:" + path + "?" + params + "&_journal_mode=WAL&_synchronous=NORMAL", nil
	default:
		scheme, _, found := strings.Cut(databaseURL, ":")
		if !found {
			scheme = "(none)"
		}
		return "", "", fmt.Errorf("%w: scheme %q (want postgres://, postgresql:// or sqlite:PATH)", ErrUnsupportedURL, scheme)
	}
}

// Dialect reports which database this DB talks to.
func (db *DB) Dialect() Dialect { return db.dialect }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return db.sql.PingContext(ctx)
}

// Pool is the connection pool, exposed for its statistics (the server's /metrics reads
// them); queries go through DB's methods.
func (db *DB) Pool() *sql.DB { return db.sql }

// Close sends the event notification still owed, if any, and releases the connection pool.
func (db *DB) Close() error {
	db.closing.Do(func() {
		if db.notifier != nil {
			db.notifier.close()
		}
	})
	return db.sql.Close()
}

// instrumentation replaces REL's default, which prints every statement to stdout: it counts
// statements for the context's StatementCounter and logs them at debug level.
func instrumentation(log *slog.Logger) rel.Instrumenter {
	return func(ctx context.Context, op string, message string, args ...any) func(err error) {
		if op != "adapter-query" && op != "adapter-exec" {
			return func(error) {}
		}
		countStatement(ctx)
		if !log.Enabled(ctx, slog.LevelDebug) {
			return func(error) {}
		}
		start := time.Now()
		return func(err error) {
			attrs := []slog.Attr{slog.String("op", op), slog.String("sql", message), slog.Duration("duration", time.Since(start))}
			if err != nil {
				attrs = append(attrs, slog.String("error", err.Error()))
			}
			log.LogAttrs(ctx, slog.LevelDebug, "query", attrs...)
		}
	}
}
