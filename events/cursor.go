package events

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// cursorPrefix marks a cursor as an event's, so that another kind of opaque string (a page
// cursor, say) is not taken for one.
const cursorPrefix = "evt:"

// ErrBadCursor is a string EncodeCursor did not make.
var ErrBadCursor = errors.New("malformed event cursor")

// EncodeCursor is the opaque cursor of the event with seq: resuming from it delivers the
// events after that one.
func EncodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(seq, 10)))
}

// DecodeCursor is the seq of a cursor EncodeCursor made, and ErrBadCursor for any other
// string. 0 is a cursor too: the present of an empty log, "after nothing".
func DecodeCursor(s string) (int64, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return 0, ErrBadCursor
	}
	digits, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok {
		return 0, ErrBadCursor
	}
	seq, err := strconv.ParseInt(digits, 10, 64)
	// Only the canonical spelling: "+1", "01" and "-0" name seqs EncodeCursor never writes
	// that way, and a seq is never negative.
	if err != nil || seq < 0 || strconv.FormatInt(seq, 10) != digits {
		return 0, ErrBadCursor
	}
	return seq, nil
}
