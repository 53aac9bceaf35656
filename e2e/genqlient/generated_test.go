package genqlient

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/Khan/genqlient/generate"
)

// generateClient runs genqlient (as a library, the same code `go tool genqlient` runs) on
// genqlient.yaml, with the schema read from schemaFile instead when that is not empty, and
// returns what it would write, by file name.
func generateClient(t *testing.T, schemaFile string) map[string][]byte {
	t.Helper()
	cfg, err := generate.ReadAndValidateConfig("genqlient.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if schemaFile != "" {
		cfg.Schema = generate.StringList{schemaFile}
	}
	files, err := generate.Generate(cfg)
	if err != nil {
		t.Fatalf("genqlient: %v", err)
	}
	if len(files) == 0 {
		t.Fatal("genqlient generated nothing")
	}
	return files
}

// TestGeneratedCode fails while generated.go is stale: not what genqlient makes of
// genqlient.yaml, operations.graphql and the repository's schema.graphqls.
func TestGeneratedCode(t *testing.T) {
	for name, want := range generateClient(t, "") {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%v: run `go generate` in e2e/genqlient and commit the files it writes", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale (not what genqlient generates from genqlient.yaml): "+
				"run `go generate` in e2e/genqlient and commit it", filepath.Base(name))
		}
	}
}

// TestServedSchemaGeneratesTheSameClient generates the client from the SDL the server serves
// at /schema.graphql, as a team downloading it would (README), and wants the same code as from
// the repository's schema.graphqls: the contract and the schema the server runs are the same
// to genqlient, descriptions (which become the Go doc comments) included.
func TestServedSchemaGeneratesTheSameClient(t *testing.T) {
	base := serverURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/schema.graphql", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sdl, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /schema.graphql: %s\n%s", resp.Status, sdl)
	}
	schemaFile := filepath.Join(t.TempDir(), "schema.graphql")
	if err := os.WriteFile(schemaFile, sdl, 0o644); err != nil {
		t.Fatal(err)
	}
	// Compared with what the repository's schema generates, not with generated.go, so that a
	// stale generated.go fails TestGeneratedCode alone.
	fromFile := generateClient(t, "")
	for name, got := range generateClient(t, schemaFile) {
		if !bytes.Equal(got, fromFile[name]) {
			t.Errorf("genqlient generates a different %s from the served /schema.graphql than from "+
				"schema.graphqls: they differ in something genqlient uses (a type, a field, a description)",
				filepath.Base(name))
		}
	}
}
