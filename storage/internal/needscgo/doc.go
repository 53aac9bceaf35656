// Package needscgo stops a build without cgo with one sentence instead of a screenful.
//
// The SQLite driver (mattn/go-sqlite3) is C. Without cgo it compiles to a stub that fails
// only at run time, and package storage, which uses the driver's error types, fails to
// compile with a list of undefined names that say nothing about cgo. Package storage
// imports this one, which the go command compiles first and which, without cgo, does not
// compile: its one error is the sentence in nocgo.go, and storage is never compiled.
//
// Go turns cgo off by itself when it finds no C compiler, so a machine without gcc or
// clang gets the sentence too. With cgo the package is empty.
package needscgo
