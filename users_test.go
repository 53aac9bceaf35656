package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/storegraph/storegraph/config"
	"github.com/storegraph/storegraph/storage"
)

func TestUsersCommandListsAccountsAndPromotesOneByEmail(t *testing.T) {
	t.Parallel()
	cfg := config.Config{DatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "users.db")}
	ctx := context.Background()
	db, err := storage.Open(ctx, cfg.DatabaseURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"Ada@Example.com", "bob@example.com"} {
		if _, err := db.CreateUser(ctx, email, "not a real hash"); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	const created = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`
	for _, tt := range []struct {
		args    []string
		wantOut string // a regular expression for the whole output
		wantErr string
	}{
		{[]string{"list"}, `^ID +EMAIL +ROLE +CREATED\n` +
			`gid://storegraph/User/1 +Ada@Example.com +USER +` + created + `\n` +
			`gid://storegraph/User/2 +bob@example.com +USER +` + created + `\n$`, ""},
		{[]string{"promote", "ADA@example.com"}, `^Ada@Example.com \(gid://storegraph/User/1\) is now ADMIN\n$`, ""},
		{[]string{"list"}, `\ngid://storegraph/User/1 +Ada@Example.com +ADMIN +` + created + `\ngid://storegraph/User/2 +bob@example.com +USER +`, ""},
		{[]string{"promote", "nobody@example.com"}, `^$`, `no user has the email "nobody@example.com"`},
		{[]string{"promote"}, `^$`, usersUsage},
		{[]string{"delete", "bob@example.com"}, `^$`, usersUsage},
		{nil, `^$`, usersUsage},
	} {
		var out bytes.Buffer
		err := users(ctx, cfg, slog.New(slog.DiscardHandler), tt.args, &out)
		if errString(err) != tt.wantErr || !regexp.MustCompile(tt.wantOut).MatchString(out.String()) {
			t.Fatalf("users %q: %v, printed %q; want %q and output matching %s", tt.args, err, out.String(), tt.wantErr, tt.wantOut)
		}
	}
}
