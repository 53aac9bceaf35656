package storage

import (
	"net/mail"
	"strings"
)

// MaxEmailBytes is the longest email address, in bytes: the most SMTP carries in a path.
const MaxEmailBytes = 254

// CleanEmail trims an email address and checks it is one bare address with a domain, as
// net/mail reads it: no display name ("A <a@b.c>"), no comment, no list. key is the form that
// uniqueness and sign-in compare, lower-cased. A problem is a *ValidationError for field.
func CleanEmail(field, email string) (clean, key string, err error) {
	clean = strings.TrimSpace(email)
	if len(clean) > MaxEmailBytes {
		return "", "", Invalid(field, "Not a valid email address.")
	}
	// net/mail insists on a domain, and returns the address it found inside whatever else
	// it accepted (angle brackets, a name, a comment, quotes): only an address that is all
	// of the input is bare.
	addr, perr := mail.ParseAddress(clean)
	if perr != nil || addr.Name != "" || addr.Address != clean {
		return "", "", Invalid(field, "Not a valid email address.")
	}
	return clean, emailKey(clean), nil
}

// emailKey is the form of an email that accounts are found by.
func emailKey(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}
