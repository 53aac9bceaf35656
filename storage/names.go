package storage

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
)

// MaxNameLength is the longest store or item name, in characters.
const MaxNameLength = 80

// maxSearchLength bounds nameContains: longer needles cannot match an 80-character name.
const maxSearchLength = 4 * MaxNameLength

// cleanName trims a name and checks its length, recording problems under field.
func cleanName(p *problems, field, name string) string {
	name = strings.TrimSpace(name)
	switch n := utf8.RuneCountInString(name); {
	case !utf8.ValidString(name):
		p.add(field, "Name must be valid UTF-8.")
	case hasControl(name):
		p.add(field, "Name must not contain control characters.")
	case n == 0:
		p.add(field, "Name must not be empty.")
	case n > MaxNameLength:
		p.add(field, fmt.Sprintf("Name must be at most %d characters.", MaxNameLength))
	}
	return name
}

// hasControl reports control characters (U+0000–U+001F, U+007F–U+009F). A name is one line
// of text, and Postgres cannot store U+0000 in text at all: refusing them keeps both
// databases alike and the error the client's.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

// nameKey is the case-folded form of a name that uniqueness, ordering and case-insensitive
// search compare. It is computed here rather than by SQL lower(), which differs between
// Postgres (locale-aware) and SQLite (ASCII only).
func nameKey(name string) string {
	return cases.Fold().String(name)
}

// nameContains adds a case-insensitive "name contains needle" condition, recording an
// overlong needle as a problem under field.
func (c *conditions) nameContains(p *problems, field string, needle *string) {
	if needle == nil || *needle == "" {
		return
	}
	if utf8.RuneCountInString(*needle) > maxSearchLength {
		p.add(field, fmt.Sprintf("%s must be at most %d characters.", field, maxSearchLength))
		return
	}
	if hasControl(*needle) {
		p.add(field, fmt.Sprintf("%s must not contain control characters.", field))
		return
	}
	pattern := likeContains(nameKey(*needle))
	c.add(func(st *statement) {
		st.write(" AND name_key LIKE ", st.arg(pattern), ` ESCAPE '\'`)
	})
}
