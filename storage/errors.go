package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/go-rel/rel"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// Sentinel errors. Callers test them with errors.Is; the concrete types below carry the
// user-facing message.
var (
	// ErrNotFound is matched by every *NotFoundError.
	ErrNotFound = errors.New("not found")
	// ErrConflict is matched by every *ConflictError.
	ErrConflict = errors.New("conflict")
	// ErrInvalid is matched by every *ValidationError.
	ErrInvalid = errors.New("invalid input")
	// ErrUnavailable is matched by every error that means the database could not be reached
	// or did not answer within the caller's context (deadline or cancellation): nothing is
	// wrong with the request, and it may succeed when retried.
	ErrUnavailable = errors.New("database unavailable")
	// ErrForbidden is matched by every *ForbiddenError.
	ErrForbidden = errors.New("forbidden")
	// ErrSessionEnded is a refresh that cannot go on: the token is unknown or was used
	// before, or its session is revoked or expired. The error wrapping it says which, for
	// the log; the client is only told to sign in again.
	ErrSessionEnded = errors.New("session ended")
)

// NotFoundError reports that the named resource ("Store", "Item") does not exist. Field is
// the input that named it, as the client spelled it ("id", "storeId"), so that a client can
// tell which of two ids was wrong (updateItem names an item and perhaps a store); it is
// empty when no input did.
type NotFoundError struct {
	Resource string
	Field    string
}

// Error is a sentence, like every other message clients see.
func (e *NotFoundError) Error() string        { return e.Resource + " not found." }
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ConflictError reports that a write would break a uniqueness rule.
type ConflictError struct {
	Message string
}

func (e *ConflictError) Error() string        { return e.Message }
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ForbiddenError reports that the actor may not make a write that is otherwise possible.
type ForbiddenError struct {
	Message string
}

func (e *ForbiddenError) Error() string        { return e.Message }
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// FieldError is one problem with one input field, named as the client spelled it.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists every problem found in one input, so a client can fix them all at
// once instead of one round trip per mistake.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Field + ": " + f.Message
	}
	return strings.Join(msgs, "; ")
}

func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns a ValidationError for a single field.
func Invalid(field, message string) *ValidationError {
	return &ValidationError{Fields: []FieldError{{Field: field, Message: message}}}
}

// problems collects field errors while an input is checked.
type problems []FieldError

func (p *problems) add(field, message string) { *p = append(*p, FieldError{field, message}) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Fields: p}
}

var (
	errStoreNotFound  = &NotFoundError{Resource: "Store", Field: "id"}
	errItemNotFound   = &NotFoundError{Resource: "Item", Field: "id"}
	errStoreNameTaken = &ConflictError{Message: "A store with that name already exists."}
	// errItemStoreNotFound is an item write naming a store that does not exist.
	errItemStoreNotFound = &NotFoundError{Resource: "Store", Field: "storeId"}

	errUserNotFound        = &NotFoundError{Resource: "User", Field: "id"}
	errUserByEmailNotFound = &NotFoundError{Resource: "User", Field: "email"}
	// errRoleUserNotFound is setUserRole naming a user that does not exist.
	errRoleUserNotFound = &NotFoundError{Resource: "User", Field: "userId"}
	// errUserGone is a write for a user deleted meanwhile (a session's, or a store's new
	// owner): no input of the client's named the user.
	errUserGone   = &NotFoundError{Resource: "User"}
	errEmailTaken = &ConflictError{Message: "An account with that email already exists."}
	// errLastAdmin is setUserRole demoting the only admin, after whom nobody could give a
	// role again (but the command line's users promote).
	errLastAdmin = &ConflictError{Message: "That user is the last admin: make another user an admin first."}

	errStoreForbidden = &ForbiddenError{Message: "Only the store's owner or an admin can change it."}
	errAdminOnly      = &ForbiddenError{Message: "Only an admin can do this."}
)

// isTyped reports the errors this package makes for the caller (not found, forbidden), which
// a write passes on as they are.
func isTyped(err error) bool {
	var (
		nf *NotFoundError
		fe *ForbiddenError
	)
	return errors.As(err, &nf) || errors.As(err, &fe)
}

// isUniqueViolation and isForeignKeyViolation classify driver errors. REL maps most of them to
// rel.ConstraintError; its SQLite adapter leaves foreign-key failures unmapped, so the driver's
// own code is checked as well.
func isUniqueViolation(err error) bool {
	var ce rel.ConstraintError
	return errors.As(err, &ce) && ce.Type == rel.UniqueConstraint
}

func isForeignKeyViolation(err error) bool {
	var ce rel.ConstraintError
	if errors.As(err, &ce) && ce.Type == rel.ForeignKeyConstraint {
		return true
	}
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintForeignKey
}

// unavailableError keeps the driver's error, which the server logs, behind ErrUnavailable.
type unavailableError struct {
	err error
}

func (e *unavailableError) Error() string        { return "database unavailable: " + e.err.Error() }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }
func (e *unavailableError) Unwrap() error        { return e.err }

// classify marks err as ErrUnavailable when it comes from an outage rather than from the
// statement, so that callers can tell "try again later" from a bug. The methods that read
// and write stores and items pass their database errors through here; Ping and the
// migration methods return the driver's errors as they are.
func classify(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	// Once the caller's time is up, whatever the driver reports (a cancelled query, a
	// connection closed under it) is a consequence of that.
	if ctx.Err() != nil || isOutage(err) {
		return &unavailableError{err: err}
	}
	return err
}

// isOutage recognises the driver errors of a database that is down, restarting, out of
// connections or unreachable.
func isOutage(err error) bool {
	for _, target := range []error{
		context.DeadlineExceeded, context.Canceled,
		driver.ErrBadConn, sql.ErrConnDone, pgconn.ErrConnClosed,
		io.EOF, io.ErrUnexpectedEOF, // the server closed the connection mid-statement
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var (
		netErr     net.Error
		connectErr *pgconn.ConnectError
		pgErr      *pgconn.PgError
		sqliteErr  sqlite3.Error
	)
	// pgconn's timeout errors (pgconn.Timeout) need no case of their own: they wrap a
	// context error or a net.Error, which the checks above and this case see through.
	switch {
	case errors.As(err, &netErr), errors.As(err, &connectErr):
		return true
	case errors.As(err, &pgErr):
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", // admin_shutdown, crash_shutdown, cannot_connect_now
			"53300", // too_many_connections
			"57014": // query_canceled
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") // connection exception
	case errors.As(err, &sqliteErr):
		// The busy timeout ran out while another connection held the write lock.
		return sqliteErr.Code == sqlite3.ErrBusy || sqliteErr.Code == sqlite3.ErrLocked
	}
	return false
}

func isNotFound(err error) bool {
	return errors.Is(err, rel.ErrNotFound)
}

// JoinValidation merges the problems of several validation errors into one, so that a
// caller that checks some fields itself (IDs, say) still reports every problem at once.
// Nil errors are skipped; any error that is not a *ValidationError is returned as it is.
func JoinValidation(errs ...error) error {
	var all problems
	for _, err := range errs {
		if err == nil {
			continue
		}
		var ve *ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		all = append(all, ve.Fields...)
	}
	return all.err()
}
