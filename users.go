package main

// The users subcommands: the operator's way to see accounts and to make the first admin,
// which no GraphQL request can do (setUserRole needs an admin already).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/storegraph/storegraph/config"
	"github.com/storegraph/storegraph/graph/model"
	"github.com/storegraph/storegraph/storage"
)

const usersUsage = "usage: storegraph users list|promote EMAIL"

// users runs `storegraph users ARGS`, on a database brought up to date first, as the server
// does when it starts.
func users(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, out io.Writer) error {
	switch {
	case len(args) == 1 && args[0] == "list":
	case len(args) == 2 && args[0] == "promote":
	default:
		return errors.New(usersUsage)
	}
	db, err := storage.Open(ctx, cfg.DatabaseURL, log, cfg.Pool)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ApplyMigrations(ctx); err != nil {
		return err
	}
	if args[0] == "list" {
		return listUsers(ctx, db, out)
	}
	u, err := db.PromoteUser(ctx, args[1])
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("no user has the email %q", args[1])
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s (%s) is now %s\n", u.Email, model.GlobalID("User", u.ID), u.Role)
	return nil
}

func listUsers(ctx context.Context, db *storage.DB, out io.Writer) error {
	all, err := db.ListUsers(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tEMAIL\tROLE\tCREATED")
	for _, u := range all {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", model.GlobalID("User", u.ID), u.Email, u.Role, u.CreatedAt.UTC().Format(time.RFC3339))
	}
	return w.Flush()
}
