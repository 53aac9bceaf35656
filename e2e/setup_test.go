package e2e

// What the person setting the server up meets, from the README on a fresh clone: the
// migrate commands say what they do and down asks first; the server names the playground's
// address, and a taken port stops it at once.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/storage/migrations"
)

// The first migration as migrate down describes it, once TestSetupMigrateDownAsksFirst has
// made two stores with three items. A released migration is never edited.
const (
	firstMigration     = "20261128010000 create stores and items"
	firstMigrationPlan = "migrate down reverts " + firstMigration + ":\n" +
		"  drop table items (3 rows)\n" +
		"  drop table stores (2 rows)\n"
)

func TestSetupMigrateUpSaysWhatItApplied(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		env := []string{"DATABASE_URL=" + dbURL}
		for _, want := range []string{appliedLines(backend), "nothing to apply\n"} {
			out := mustMigrate(t, env, nil, "up")
			if out != want {
				t.Errorf("migrate up printed %q, want %q", out, want)
			}
		}
	})
}

func TestSetupMigrateDownAsksFirst(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, backend, dbURL string) {
		env := []string{"DATABASE_URL=" + dbURL}
		s := startServer(t, backend, dbURL)
		a, b := createStore(t, s, "Setup A"), createStore(t, s, "Setup B")
		createItem(t, s, a.ID, "One", 1)
		createItem(t, s, a.ID, "Two", 2)
		createItem(t, s, b.ID, "Three", 3)
		s.Stop(t)

		all := migrations.All(backend)
		allApplied := strings.TrimSpace(strings.Repeat("applied ", len(all)))
		newest := fmt.Sprintf("%d %s", all[len(all)-1].Version, all[len(all)-1].Name)

		// Without a terminal to ask on, down refuses and changes nothing: with no stdin at
		// all (the null device), and with a "y" piped in, which is not a person.
		for _, stdin := range []struct {
			name string
			r    io.Reader
		}{{"no stdin", nil}, {`"y" piped in`, strings.NewReader("y\n")}} {
			out, errOut, code := runMigrate(t, env, stdin.r, "down")
			wantErr := "storegraph: migrate down: stdin is not a terminal, so nobody can confirm reverting " + newest + ": pass --yes to revert it\n"
			if code != 1 || errOut != wantErr {
				t.Errorf("migrate down, %s: exit %d, stderr %q; want exit 1, %q", stdin.name, code, errOut, wantErr)
			}
			if want := "migrate down reverts " + newest + ":\n"; !strings.HasPrefix(out, want) {
				t.Errorf("migrate down, %s: stdout %q does not start with %q", stdin.name, out, want)
			}
			if got := statusStates(t, env); got != allApplied {
				t.Errorf("status after the refused down, %s: %q, want %q", stdin.name, got, allApplied)
			}
		}

		// --yes reverts, saying so; down to the first migration.
		for i := len(all) - 1; i > 0; i-- {
			name := fmt.Sprintf("%d %s", all[i].Version, all[i].Name)
			out := mustMigrate(t, env, nil, "down", "--yes")
			if !strings.HasPrefix(out, "migrate down reverts "+name+":\n") || !strings.HasSuffix(out, "\nreverted "+name+"\n") {
				t.Errorf("migrate down --yes printed %q, want the plan and the revert of %s", out, name)
			}
		}

		// The first migration drops the tables, and says how many rows go with them.
		out, _, code := runMigrate(t, env, nil, "down")
		if code != 1 || out != firstMigrationPlan {
			t.Errorf("migrate down of the first migration: exit %d, stdout %q; want exit 1, %q", code, out, firstMigrationPlan)
		}
		if out := mustMigrate(t, env, nil, "down", "--yes"); out != firstMigrationPlan+"reverted "+firstMigration+"\n" {
			t.Errorf("migrate down --yes of the first migration printed %q", out)
		}
		allPending := strings.TrimSpace(strings.Repeat("pending ", len(all)))
		if got := statusStates(t, env); got != allPending {
			t.Errorf("status after reverting everything: %q, want %q", got, allPending)
		}
		if out := mustMigrate(t, env, nil, "down", "--yes"); out != "nothing to revert\n" {
			t.Errorf("migrate down --yes with nothing applied printed %q, want %q", out, "nothing to revert\n")
		}
		if out, want := mustMigrate(t, env, nil, "up"), appliedLines(backend); out != want {
			t.Errorf("migrate up after reverting everything printed %q, want %q", out, want)
		}
	})
}

func TestSetupServerNamesThePlaygroundAndRefusesATakenPort(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *server) {
		_, port, _ := net.SplitHostPort(s.Addr)
		playground := "http://localhost:" + port + "/"
		if got := servingLine(t, s.Stderr())["playground"]; got != playground {
			t.Errorf(`"serving" log line: playground %v, want %q`, got, playground)
		}
		resp, err := http.Get(playground)
		if err != nil {
			t.Fatalf("GET %s: %v", playground, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("GraphiQL")) {
			t.Errorf("GET %s: status %d, want 200 with GraphiQL", playground, resp.StatusCode)
		}

		// A second server on the same port stops at once, in one line, without claiming
		// to serve; the first one serves on.
		_, errOut, code := runBinary(t, []string{"DATABASE_URL=" + s.DBURL, "PORT=" + port})
		want := "storegraph: port " + port + " is taken (stop what listens there or set PORT to a free port): listen tcp :" + port + ": bind: address already in use\n"
		if code != 1 || errOut != want {
			t.Errorf("second server on port %s: exit %d, stderr %q; want exit 1, %q", port, code, errOut, want)
		}
		if status, _, _ := s.get(t, "/healthz"); status != http.StatusOK {
			t.Errorf("first server after the second one's attempt: /healthz %d, want 200", status)
		}
	})
}

// servingLine is the one "serving" line of a server's JSON log.
func servingLine(t *testing.T, logs string) map[string]any {
	t.Helper()
	var found []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == "serving" {
			found = append(found, entry)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d \"serving\" lines in the log, want 1:\n%s", len(found), logs)
	}
	return found[0]
}

// appliedLines is what migrate up prints when it applies all of backend's migrations.
func appliedLines(backend string) string {
	var b strings.Builder
	for _, m := range migrations.All(backend) {
		fmt.Fprintf(&b, "applied %d %s\n", m.Version, m.Name)
	}
	return b.String()
}

// statusStates is `migrate status` as states, oldest first: "applied pending".
func statusStates(t *testing.T, env []string) string {
	t.Helper()
	return migrationStates(t, mustMigrate(t, env, nil, "status"))
}

// mustMigrate runs `storegraph migrate ARGS`, fails t unless it exits 0, and returns its
// stdout.
func mustMigrate(t *testing.T, env []string, stdin io.Reader, args ...string) string {
	t.Helper()
	out, errOut, code := runMigrate(t, env, stdin, args...)
	if code != 0 {
		t.Fatalf("migrate %s: exit %d, stderr:\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// runMigrate is runBinary for `storegraph migrate ARGS` with stdin; nil stdin is the null
// device, as for a process started without input.
func runMigrate(t *testing.T, env []string, stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin := serverBinary(t, false) // before the clock starts: the first call builds it
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"migrate"}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(baseEnv(), env...)
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("storegraph migrate %s did not finish within %v; stderr:\n%s", strings.Join(args, " "), startTimeout, errOut.String())
	}
	code, ok := exitCode(err)
	if !ok {
		t.Fatalf("run storegraph migrate %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}
