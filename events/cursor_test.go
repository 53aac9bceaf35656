package events_test

import (
	"encoding/base64"
	"errors"
	"math"
	"testing"

	"github.com/storegraph/storegraph/events"
)

func TestCursorRoundTrips(t *testing.T) {
	for _, seq := range []int64{0, 1, 42, math.MaxInt64} {
		c := events.EncodeCursor(seq)
		got, err := events.DecodeCursor(c)
		if err != nil || got != seq {
			t.Errorf("DecodeCursor(EncodeCursor(%d) = %q) = %d, %v", seq, c, got, err)
		}
	}
	if c := events.EncodeCursor(42); c != "ZXZ0OjQy" {
		t.Errorf("EncodeCursor(42) = %q, want ZXZ0OjQy (base64url of evt:42)", c)
	}
}

func TestDecodeCursorRefusesWhatEncodeCursorDoesNotMake(t *testing.T) {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, c := range []string{
		"",
		"evt:42",                       // not encoded
		"ZXZ0OjQy=",                    // padded
		"ZXZ0OjF",                      // evt:1 with its spare bits set
		"ZXZ0OjE=",                     // evt:1 padded
		"+/8",                          // not the URL alphabet
		b64("evt:"),                    // no seq
		b64("evt:-1"),                  // negative
		b64("evt:+1"),                  // sign
		b64("evt:01"),                  // leading zero
		b64("evt:-0"),                  // negative zero
		b64("evt: 1"),                  // space
		b64("evt:1x"),                  // junk
		b64("evt:1.0"),                 // not an integer
		b64("evt:9223372036854775808"), // past int64
		b64("Store:1"),                 // another kind of id
		b64("EVT:1"),                   // prefix is case-sensitive
	} {
		if seq, err := events.DecodeCursor(c); !errors.Is(err, events.ErrBadCursor) {
			t.Errorf("DecodeCursor(%q) = %d, %v, want ErrBadCursor", c, seq, err)
		}
	}
}
