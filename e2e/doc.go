// Package e2e holds the end-to-end tests of storegraph: they build the real server binary,
// run it as a subprocess against fresh Postgres and SQLite databases, and talk to it over
// HTTP exactly as a client would. Run them with scripts/test or `go test ./e2e/`.
package e2e
