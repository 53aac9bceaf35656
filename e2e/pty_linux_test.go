package e2e

// migrate down on a real terminal: stdin is a pseudo-terminal, as when a person runs it.
// Linux only, for the ioctls that open one (the other tests run the binary without one).

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/storegraph/storegraph/storage/migrations"
)

func TestSetupMigrateDownAsksOnATerminal(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		env := []string{"DATABASE_URL=" + dbURL}
		mustMigrate(t, env, nil, "up")
		all := migrations.All(backend)
		newest := fmt.Sprintf("%d %s", all[len(all)-1].Version, all[len(all)-1].Name)
		prompt := "Revert " + newest + "? [y/N] "
		allApplied := strings.TrimSpace(strings.Repeat("applied ", len(all)))

		for _, tc := range []struct {
			answer     string
			wantCode   int
			wantErr    string // stderr after the prompt
			wantStatus string
		}{
			{"n", 1, "storegraph: migrate down: not confirmed; nothing reverted\n", allApplied},
			{"", 1, "storegraph: migrate down: not confirmed; nothing reverted\n", allApplied},
			{"y", 0, "", strings.TrimSpace(strings.Repeat("applied ", len(all)-1) + "pending")},
		} {
			out, errOut, code := runMigrate(t, env, typed(t, tc.answer+"\n"), "down")
			if code != tc.wantCode || errOut != prompt+tc.wantErr {
				t.Errorf("answer %q: exit %d, stderr %q; want exit %d, %q", tc.answer, code, errOut, tc.wantCode, prompt+tc.wantErr)
			}
			if !strings.HasPrefix(out, "migrate down reverts "+newest+":\n") {
				t.Errorf("answer %q: stdout %q does not start with the plan", tc.answer, out)
			}
			if done := strings.HasSuffix(out, "\nreverted "+newest+"\n"); done != (tc.wantCode == 0) {
				t.Errorf("answer %q: stdout %q says reverted: %v, want %v", tc.answer, out, done, tc.wantCode == 0)
			}
			if got := statusStates(t, env); got != tc.wantStatus {
				t.Errorf("answer %q: status %q, want %q", tc.answer, got, tc.wantStatus)
			}
		}
	})
}

// typed returns the terminal end of a new pseudo-terminal on which input has been typed,
// for a process's stdin. Both ends are closed when t ends.
func typed(t *testing.T, input string) *os.File {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	var unlock int32
	var n uint32
	if err := ioctl(master, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	if err := ioctl(master, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Fatalf("number the pseudo-terminal: %v", err)
	}
	term, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the terminal end: %v", err)
	}
	t.Cleanup(func() { term.Close() })
	// The terminal holds the line until the process reads it.
	if _, err := master.WriteString(input); err != nil {
		t.Fatalf("type %q: %v", input, err)
	}
	return term
}

func ioctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if err := raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}
