package storage

// Without cgo the SQLite driver is a stub and this package does not compile; needscgo turns
// that into one sentence saying so (see its doc).
import _ "github.com/storegraph/storegraph/storage/internal/needscgo"
