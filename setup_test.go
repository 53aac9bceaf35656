package main

// What the person setting the server up meets: building it, the migrate commands, the port.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/storegraph/storegraph/config"
	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/storage/migrations"
)

func TestBuildWithoutCgoSaysSQLiteNeedsCgo(t *testing.T) {
	t.Parallel()
	goBin := goTool(t)
	// Only go itself on PATH: no gcc or clang, so Go turns cgo off by itself, as on a fresh
	// machine without a C compiler.
	onlyGo := t.TempDir()
	if err := os.Symlink(goBin, filepath.Join(onlyGo, "go")); err != nil {
		t.Fatal(err)
	}
	const sentence = "undefined: storegraph_needs_cgo_for_SQLite__install_a_C_compiler_such_as_gcc_and_build_with_CGO_ENABLED_1"

	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"CGO_ENABLED=0", []string{"CGO_ENABLED=0", "PATH=" + os.Getenv("PATH")}},
		{"no C compiler on PATH", []string{"PATH=" + onlyGo}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, goBin, "build", "-o", os.DevNull, ".")
			cmd.Env = append(withoutEnv("CGO_ENABLED", "CC", "PATH", "GOFLAGS"), tc.env...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("go build succeeded, want it to stop:\n%s", out)
			}
			// One package header and one error: the sentence, and none of the undefined
			// names of the SQLite driver's stub.
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 2 || lines[0] != "# github.com/storegraph/storegraph/storage/internal/needscgo" || !strings.HasSuffix(lines[1], ": "+sentence) {
				t.Errorf("go build said:\n%s\nwant the needscgo header and one line ending in %q", out, sentence)
			}
		})
	}
}

// goTool is the go command of the toolchain running the tests.
func goTool(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "bin", "go")
}

// withoutEnv is the test's environment without the named variables.
func withoutEnv(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			env = append(env, kv)
		}
	}
	return env
}

func TestParseMigrateArgs(t *testing.T) {
	t.Parallel()
	const usage = "usage: storegraph migrate up|down [--yes]|status"
	for _, tc := range []struct {
		args    []string
		cmd     string
		yes     bool
		wantErr string
	}{
		{args: []string{"up"}, cmd: "up"},
		{args: []string{"status"}, cmd: "status"},
		{args: []string{"down"}, cmd: "down"},
		{args: []string{"down", "--yes"}, cmd: "down", yes: true},
		{args: []string{"down", "-y"}, cmd: "down", yes: true},
		{args: nil, wantErr: usage},
		{args: []string{"sideways"}, wantErr: `unknown migrate command "sideways"; ` + usage},
		{args: []string{"up", "--yes"}, wantErr: `unknown migrate command "up --yes"; ` + usage},
		{args: []string{"down", "--force"}, wantErr: `unknown migrate command "down --force"; ` + usage},
	} {
		cmd, yes, err := parseMigrateArgs(tc.args)
		if gotErr := errString(err); cmd != tc.cmd || yes != tc.yes || gotErr != tc.wantErr {
			t.Errorf("parseMigrateArgs(%q) = %q, %v, %q; want %q, %v, %q", tc.args, cmd, yes, gotErr, tc.cmd, tc.yes, tc.wantErr)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestMigrateUpSaysWhatItApplied(t *testing.T) {
	t.Parallel()
	cfg := config.Config{DatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "up.db")}
	var want strings.Builder
	for _, m := range migrations.All("sqlite") {
		fmt.Fprintf(&want, "applied %d %s\n", m.Version, m.Name)
	}
	for _, wantOut := range []string{want.String(), "nothing to apply\n"} {
		out, _, err := runMigrate(t, cfg, console{}, "up")
		if err != nil || out != wantOut {
			t.Errorf("migrate up: %v, printed %q, want %q", err, out, wantOut)
		}
	}
}

func TestMigrateDownAsksFirst(t *testing.T) {
	t.Parallel()
	all := migrations.All("sqlite")
	newest := all[len(all)-1]
	plan := fmt.Sprintf("migrate down reverts %d %s:\n", newest.Version, newest.Name)
	reverted := fmt.Sprintf("reverted %d %s\n", newest.Version, newest.Name)
	prompt := fmt.Sprintf("Revert %d %s? [y/N] ", newest.Version, newest.Name)
	notATerminal := fmt.Sprintf("migrate down: stdin is not a terminal, so nobody can confirm reverting %d %s: pass --yes to revert it", newest.Version, newest.Name)
	const declined = "migrate down: not confirmed; nothing reverted"

	for _, tc := range []struct {
		name       string
		args       []string
		terminal   bool
		input      string
		wantPrompt string
		wantErr    string // "" means it reverted
	}{
		{name: "--yes without a terminal", args: []string{"--yes"}},
		{name: "--yes on a terminal asks nothing", args: []string{"--yes"}, terminal: true},
		{name: "no terminal", input: "y\n", wantErr: notATerminal},
		{name: "y", terminal: true, input: "y\n", wantPrompt: prompt},
		{name: "YES", terminal: true, input: " YES \n", wantPrompt: prompt},
		{name: "n", terminal: true, input: "n\n", wantPrompt: prompt, wantErr: declined},
		{name: "just Enter", terminal: true, input: "\n", wantPrompt: prompt, wantErr: declined},
		{name: "anything else", terminal: true, input: "yep\n", wantPrompt: prompt, wantErr: declined},
		{name: "end of input", terminal: true, input: "", wantPrompt: prompt + "\n", wantErr: declined},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Config{DatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "down.db")}
			if _, _, err := runMigrate(t, cfg, console{}, "up"); err != nil {
				t.Fatal(err)
			}
			con := console{in: strings.NewReader(tc.input), terminal: tc.terminal}
			out, prompted, err := runMigrate(t, cfg, con, append([]string{"down"}, tc.args...)...)

			if errString(err) != tc.wantErr {
				t.Errorf("error %q, want %q", errString(err), tc.wantErr)
			}
			if prompted != tc.wantPrompt {
				t.Errorf("prompt %q, want %q", prompted, tc.wantPrompt)
			}
			wantApplied := len(all)
			if tc.wantErr == "" {
				wantApplied--
			}
			if got := appliedMigrations(t, cfg); got != wantApplied {
				t.Errorf("%d migrations applied afterwards, want %d", got, wantApplied)
			}
			if !strings.HasPrefix(out, plan) {
				t.Errorf("output does not start with the plan %q:\n%s", plan, out)
			}
			if done := strings.HasSuffix(out, reverted); done != (tc.wantErr == "") {
				t.Errorf("output ends in %q: %v, want %v:\n%s", reverted, done, tc.wantErr == "", out)
			}
		})
	}
}

func TestMigrateDownWithNothingApplied(t *testing.T) {
	t.Parallel()
	cfg := config.Config{DatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "empty.db")}
	out, prompted, err := runMigrate(t, cfg, console{terminal: true, in: strings.NewReader("y\n")}, "down")
	if err != nil || out != "nothing to revert\n" || prompted != "" {
		t.Errorf("migrate down of a fresh database: %v, printed %q, asked %q; want nothing to revert, unasked", err, out, prompted)
	}
}

func TestPlanLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		plan storage.RollbackPlan
		want string
	}{
		{
			storage.RollbackPlan{
				Migration: storage.Migration{Version: 1, Name: "create things"},
				Removes: []storage.Removal{
					{Kind: "table", Name: "things", Rows: 3},
					{Kind: "table", Name: "one", Rows: 1},
					{Kind: "table", Name: "none", Rows: 0},
					{Kind: "table", Name: "maybe", Rows: -1},
					{Kind: "column", Name: "things.colour", Rows: 3},
					{Kind: "index", Name: "things_colour", Table: "things", Rows: -1},
					{Kind: "sql", Name: "DELETE FROM things", Rows: -1},
					{Kind: "code", Rows: -1},
				},
			},
			"migrate down reverts 1 create things:\n" +
				"  drop table things (3 rows)\n" +
				"  drop table one (1 row)\n" +
				"  drop table none (0 rows)\n" +
				"  drop table maybe (if it exists)\n" +
				"  drop column things.colour (3 rows)\n" +
				"  drop index things_colour on things\n" +
				"  run SQL: DELETE FROM things\n" +
				"  run Go code\n",
		},
		{
			storage.RollbackPlan{Migration: storage.Migration{Version: 2, Name: "add a column"}},
			"migrate down reverts 2 add a column:\n  (it removes nothing)\n",
		},
	} {
		var out bytes.Buffer
		printPlan(&out, tc.plan)
		if out.String() != tc.want {
			t.Errorf("plan of %d:\n%s\nwant:\n%s", tc.plan.Version, out.String(), tc.want)
		}
	}
}

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "answers"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()

	// A terminal itself is tested by the e2e tests, on a pseudo-terminal.
	for _, tc := range []struct {
		name string
		f    *os.File
	}{
		{"the null device (a character device)", null},
		{"a pipe", r},
		{"a file", file},
	} {
		if isTerminal(tc.f) {
			t.Errorf("isTerminal(%s) = true, want false", tc.name)
		}
	}
}

func TestListenOnATakenPort(t *testing.T) {
	t.Parallel()
	first, err := listen("0")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	port := first.Addr().(*net.TCPAddr).Port
	if got, want := playgroundURL(first), fmt.Sprintf("http://localhost:%d/", port); got != want {
		t.Errorf("playgroundURL = %q, want %q", got, want)
	}

	second, err := listen(fmt.Sprint(port))
	if err == nil {
		second.Close()
		t.Fatalf("a second listen on port %d succeeded", port)
	}
	want := fmt.Sprintf("port %d is taken (stop what listens there or set PORT to a free port): listen tcp :%d: bind: address already in use", port, port)
	if err.Error() != want || !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %q, want %q wrapping EADDRINUSE", err, want)
	}
}

// runMigrate runs `storegraph migrate ARGS` in the test's process, printing into buffers
// in place of con's out and prompt, and returns what it printed and asked.
func runMigrate(t *testing.T, cfg config.Config, con console, args ...string) (out, prompt string, err error) {
	t.Helper()
	var outBuf, promptBuf bytes.Buffer
	con.out, con.prompt = &outBuf, &promptBuf
	err = migrate(context.Background(), cfg, slog.New(slog.DiscardHandler), args, con)
	return outBuf.String(), promptBuf.String(), err
}

// appliedMigrations counts the migrations applied to cfg's database.
func appliedMigrations(t *testing.T, cfg config.Config) int {
	t.Helper()
	db, err := storage.Open(context.Background(), cfg.DatabaseURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	status, err := db.MigrationStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range status {
		if m.Applied {
			n++
		}
	}
	return n
}
