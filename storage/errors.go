package storage

import (
	"errors"
	"strings"

	"github.com/go-rel/rel"
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
)

// NotFoundError reports that the named resource ("Store", "Item") does not exist.
type NotFoundError struct {
	Resource string
}

func (e *NotFoundError) Error() string        { return e.Resource + " not found" }
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ConflictError reports that a write would break a uniqueness rule.
type ConflictError struct {
	Message string
}

func (e *ConflictError) Error() string        { return e.Message }
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

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
	errStoreNotFound  = &NotFoundError{Resource: "Store"}
	errItemNotFound   = &NotFoundError{Resource: "Item"}
	errStoreNameTaken = &ConflictError{Message: "A store with that name already exists."}
)

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
