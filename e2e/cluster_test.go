package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// pgCluster is a PostgreSQL cluster of the test's own, in a temporary directory and on a
// port of its own, which the test may stop and start: never the machine's shared server.
type pgCluster struct {
	URL string // postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable

	bindir, dir string
	asPostgres  bool // the server refuses to run as root: run its tools as user postgres
}

// startPGCluster initialises and starts a cluster, removed when the test ends. Debian's
// server binaries are used: $STOREGRAPH_PG_BINDIR (set by scripts/test), else pg_config's,
// else the newest /usr/lib/postgresql/*/bin.
func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	c := &pgCluster{bindir: pgBindir(t), asPostgres: os.Geteuid() == 0}
	c.dir = pgClusterDir(t, c.asPostgres)
	t.Cleanup(func() {
		_ = c.pgCtl("stop", "-m", "immediate")
		os.RemoveAll(c.dir)
	})
	port := freePort(t)
	c.URL = "postgres://postgres@127.0.0.1:" + port + "/postgres?sslmode=disable"

	data := filepath.Join(c.dir, "data")
	if out, err := c.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = ''\n", port)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	c.Start(t)
	return c
}

// Start starts the cluster and waits until it accepts connections.
func (c *pgCluster) Start(t *testing.T) {
	t.Helper()
	if err := c.pgCtl("start", "-l", filepath.Join(c.dir, "postgres.log")); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
		t.Fatalf("pg_ctl start: %v\n%s", err, log)
	}
}

// Stop shuts the cluster down the usual way (fast: sessions are ended, committed work kept).
func (c *pgCluster) Stop(t *testing.T) {
	t.Helper()
	if err := c.pgCtl("stop", "-m", "fast"); err != nil {
		t.Fatalf("pg_ctl stop: %v", err)
	}
}

func (c *pgCluster) pgCtl(action string, args ...string) error {
	out, err := c.run("pg_ctl", append([]string{"-D", filepath.Join(c.dir, "data"), "-w", "-t", "60", action}, args...)...)
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// run runs one of the server's tools, as user postgres when we are root.
func (c *pgCluster) run(tool string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bindir, tool)
	cmd := exec.Command(path, args...)
	if c.asPostgres {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	cmd.Dir = "/" // our working directory may be closed to user postgres
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

func pgBindir(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("STOREGRAPH_PG_BINDIR")}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, string(bytes.TrimSpace(out)))
	}
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(versioned, func(a, b string) int { // newest major version first
		return pgMajor(b) - pgMajor(a)
	})
	for _, dir := range append(candidates, versioned...) {
		if dir != "" && isRegularFile(filepath.Join(dir, "initdb")) && isRegularFile(filepath.Join(dir, "pg_ctl")) && isRegularFile(filepath.Join(dir, "postgres")) {
			return dir
		}
	}
	t.Fatal("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: run the tests with scripts/test, which installs them")
	return ""
}

func pgMajor(bindir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return n
}

func isRegularFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// pgClusterDir makes the cluster's directory, owned by user postgres when the server will
// run as that user, somewhere that user can reach (TMPDIR may be under /root).
func pgClusterDir(t *testing.T, asPostgres bool) string {
	t.Helper()
	if !asPostgres {
		return t.TempDir()
	}
	pg, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("the cluster must run as user postgres: %v", err)
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	for _, base := range []string{os.TempDir(), "/tmp"} {
		dir, err := os.MkdirTemp(base, "storegraph-fault-pg-")
		if err != nil {
			continue
		}
		if err := os.Chown(dir, uid, gid); err == nil &&
			exec.Command("runuser", "-u", "postgres", "--", "test", "-w", dir).Run() == nil {
			return dir
		}
		os.RemoveAll(dir)
	}
	t.Fatal("no temporary directory that user postgres can write")
	return ""
}
