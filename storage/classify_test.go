package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

func TestClassifyTellsOutagesFromFailedStatements(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(live)
	cancel()

	tests := []struct {
		name            string
		ctx             context.Context
		err             error
		wantUnavailable bool
	}{
		{"connection refused", live, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"connection closed mid-statement", live, fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"pool connection already closed", live, fmt.Errorf("query: %w", pgconn.ErrConnClosed), true},
		{"server shutting down", live, &pgconn.PgError{Code: "57P01"}, true},
		{"session ended mid-commit by a crash elsewhere", live, &pgconn.PgError{Severity: "FATAL", Code: "57P02"}, true},
		{"server starting up", live, &pgconn.PgError{Code: "57P03"}, true},
		{"connection failure class 08", live, &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", live, &pgconn.PgError{Code: "53300"}, true},
		{"statement cancelled", live, &pgconn.PgError{Code: "57014"}, true},
		{"deadline passed", live, fmt.Errorf("find: %w", context.DeadlineExceeded), true},
		{"anything once the context is done", done, errors.New("conn busy"), true},
		{"sqlite busy beyond its timeout", live, sqlite3.Error{Code: sqlite3.ErrBusy}, true},
		{"already classified", live, &unavailableError{err: io.EOF}, true},
		{"syntax error", live, &pgconn.PgError{Code: "42601"}, false},
		// The server is up and answered: the transaction was rolled back, for an error of
		// one of its statements.
		{"commit answered with rollback", live, pgx.ErrTxCommitRollback, false},
		{"unique violation", live, &pgconn.PgError{Code: "23505"}, false},
		{"bad text encoding", live, &pgconn.PgError{Code: "22021"}, false},
		{"sqlite constraint", live, sqlite3.Error{Code: sqlite3.ErrConstraint}, false},
		{"any other error", live, errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.ctx, tt.err)
			if errors.Is(got, ErrUnavailable) != tt.wantUnavailable {
				t.Fatalf("classify(%v) = %v; unavailable = %v, want %v", tt.err, got, !tt.wantUnavailable, tt.wantUnavailable)
			}
			// The driver's error stays reachable for the server log.
			if !errors.Is(got, tt.err) && !errors.Is(tt.err, got) {
				t.Fatalf("classify(%v) = %v lost the cause", tt.err, got)
			}
		})
	}
	if classify(live, nil) != nil {
		t.Fatal("classify(nil) is not nil")
	}
}
