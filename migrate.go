package main

// The migrate subcommands. They say what they apply and revert, and down, which drops
// tables with their rows, asks first.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/storegraph/storegraph/config"
	"github.com/storegraph/storegraph/storage"
)

const migrateUsage = "usage: storegraph migrate up|down [--yes]|status"

// console is where a migrate command talks to the person running it.
type console struct {
	in       io.Reader
	out      io.Writer // what is planned and what was done
	prompt   io.Writer // the question, on stderr: out may be going to a file
	terminal bool      // in is a terminal, so a person can answer there
}

// stdConsole is the process's own stdin, stdout and stderr.
func stdConsole() console {
	return console{in: os.Stdin, out: os.Stdout, prompt: os.Stderr, terminal: isTerminal(os.Stdin)}
}

// isTerminal reports whether f is a terminal a person can type an answer on: a character
// device other than the null device, which is what a process started without input reads
// (under cron, systemd, a test harness, `< /dev/null`) and which is a character device too.
// A pipe or a file is not a terminal, so that piping "y" in cannot stand in for a person.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err == nil && !os.SameFile(fi, null)
}

// migrate runs `storegraph migrate ARGS`. The arguments are checked before the database is
// opened, so that a typo touches nothing.
func migrate(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, con console) error {
	cmd, yes, err := parseMigrateArgs(args)
	if err != nil {
		return err
	}
	db, err := storage.Open(ctx, cfg.DatabaseURL, log, cfg.Pool)
	if err != nil {
		return err
	}
	defer db.Close()

	switch cmd {
	case "up":
		return migrateUp(ctx, db, con.out)
	case "down":
		return migrateDown(ctx, db, con, yes)
	default:
		return migrateStatus(ctx, db, con.out)
	}
}

// parseMigrateArgs reads "up", "down", "down --yes" (or -y) or "status".
func parseMigrateArgs(args []string) (cmd string, yes bool, err error) {
	switch {
	case len(args) == 1 && (args[0] == "up" || args[0] == "down" || args[0] == "status"):
		return args[0], false, nil
	case len(args) == 2 && args[0] == "down" && (args[1] == "--yes" || args[1] == "-y"):
		return "down", true, nil
	case len(args) == 0:
		return "", false, errors.New(migrateUsage)
	}
	return "", false, fmt.Errorf("unknown migrate command %q; %s", strings.Join(args, " "), migrateUsage)
}

// migrateUp applies the pending migrations and lists them, also when one fails: those
// before it stay applied.
func migrateUp(ctx context.Context, db *storage.DB, out io.Writer) error {
	applied, err := db.ApplyMigrations(ctx)
	for _, m := range applied {
		fmt.Fprintf(out, "applied %d %s\n", m.Version, m.Name)
	}
	if err == nil && len(applied) == 0 {
		fmt.Fprintln(out, "nothing to apply")
	}
	return err
}

// migrateDown says what reverting the newest applied migration removes, and reverts it if
// yes is set or the person at the terminal agrees.
func migrateDown(ctx context.Context, db *storage.DB, con console, yes bool) error {
	plan, ok, err := db.PlanRollback(ctx)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintln(con.out, "nothing to revert")
		return nil
	}
	printPlan(con.out, plan)
	if !yes {
		if err := confirm(con, plan.Migration); err != nil {
			return err
		}
	}
	if err := db.Revert(ctx, plan.Migration); err != nil {
		return err
	}
	fmt.Fprintf(con.out, "reverted %d %s\n", plan.Version, plan.Name)
	return nil
}

// printPlan lists the steps of reverting plan's migration that remove something.
func printPlan(out io.Writer, plan storage.RollbackPlan) {
	fmt.Fprintf(out, "migrate down reverts %d %s:\n", plan.Version, plan.Name)
	if len(plan.Removes) == 0 {
		fmt.Fprintln(out, "  (it removes nothing)")
	}
	for _, r := range plan.Removes {
		fmt.Fprintf(out, "  %s\n", describeRemoval(r))
	}
}

// describeRemoval is one line of printPlan.
func describeRemoval(r storage.Removal) string {
	switch r.Kind {
	case "table":
		return fmt.Sprintf("drop table %s (%s)", r.Name, rowCount(r.Rows))
	case "column":
		return fmt.Sprintf("drop column %s (%s)", r.Name, rowCount(r.Rows))
	case "index":
		return fmt.Sprintf("drop index %s on %s", r.Name, r.Table)
	case "sql":
		return "run SQL: " + r.Name
	default:
		return "run Go code"
	}
}

func rowCount(n int64) string {
	switch n {
	case -1:
		return "if it exists"
	case 1:
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}

// confirm asks whether to revert m. Only a person at a terminal can answer: anywhere else
// (a script, CI) the answer is no, and the error says how to go ahead.
func confirm(con console, m storage.Migration) error {
	if !con.terminal {
		return fmt.Errorf("migrate down: stdin is not a terminal, so nobody can confirm reverting %d %s: pass --yes to revert it", m.Version, m.Name)
	}
	fmt.Fprintf(con.prompt, "Revert %d %s? [y/N] ", m.Version, m.Name)
	// A bounded read: a character device that never sends a newline must not fill memory.
	answer, err := bufio.NewReader(io.LimitReader(con.in, 256)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the answer: %w", err)
	}
	if !strings.HasSuffix(answer, "\n") {
		fmt.Fprintln(con.prompt) // Ctrl-D: end the prompt's line before the error
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return fmt.Errorf("migrate down: not confirmed; nothing reverted")
}

// migrateStatus lists every migration, oldest first, applied or pending.
func migrateStatus(ctx context.Context, db *storage.DB, out io.Writer) error {
	status, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	for _, m := range status {
		state := "pending"
		if m.Applied {
			state = "applied"
		}
		fmt.Fprintf(out, "%d  %-8s %s\n", m.Version, state, m.Name)
	}
	return nil
}
