//go:build !cgo

package needscgo

// The compiler reports this line as "undefined: storegraph_needs_cgo_for_SQLite__…", which
// reads as the fix: install a C compiler (Debian: apt-get install gcc), or, if CGO_ENABLED=0
// is set, build with CGO_ENABLED=1.
var _ = storegraph_needs_cgo_for_SQLite__install_a_C_compiler_such_as_gcc_and_build_with_CGO_ENABLED_1
