// Command storegraph serves the store catalogue over GraphQL.
//
//	storegraph                     migrate, then serve on $PORT
//	storegraph migrate up|down [--yes]|status
//	storegraph users list|promote EMAIL
//
// Configuration comes from the environment; see the README.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/storegraph/storegraph/auth"
	"github.com/storegraph/storegraph/config"
	"github.com/storegraph/storegraph/events"
	"github.com/storegraph/storegraph/storage"
	"github.com/storegraph/storegraph/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "storegraph:", err)
		os.Exit(1)
	}
}

// run is the command: its arguments, and the environment read through getenv. SIGINT and
// SIGTERM end ctx.
func run(ctx context.Context, args []string, getenv func(string) string) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := slog.New(web.LogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})))

	switch {
	case len(args) == 0:
		return serve(ctx, cfg, log)
	case args[0] == "migrate":
		return migrate(ctx, cfg, log, args[1:], stdConsole())
	case args[0] == "users":
		return users(ctx, cfg, log, args[1:], os.Stdout)
	default:
		return errors.New("usage: storegraph [migrate up|down [--yes]|status | users list|promote EMAIL]")
	}
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	db, err := storage.Open(ctx, cfg.DatabaseURL, log, cfg.Pool)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.ApplyMigrations(ctx)
	for _, m := range applied {
		log.Info("migrated", "version", m.Version, "name", m.Name)
	}
	if err != nil {
		return err
	}
	tokens, err := accessTokens(ctx, cfg, db)
	if err != nil {
		return err
	}
	go prune(ctx, db, cfg, log)

	// Requests run under a context of their own: a signal does not cancel them, so that
	// they may finish during the grace period, but the end of the grace period does.
	requestCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	// The fan-out lives as long as requests do: were it to stop at the signal, its
	// subscriptions would complete, and clients take a completed subscription for the end
	// of the stream rather than reconnect elsewhere, as they do on a close with 1001.
	hub := events.NewHub(db, events.Options{QueueSize: cfg.Streams.QueueSize, Sweep: cfg.Streams.EventSweep, Log: log})
	go func() {
		if err := hub.Run(requestCtx); err != nil && requestCtx.Err() == nil {
			log.Error("event fan-out stopped", "error", err.Error())
		}
	}()
	handler := web.New(cfg, web.Deps{DB: db, Log: log, Tokens: tokens, Events: hub})
	srv := &http.Server{
		Addr:              ":" + cfg.Port,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      max(60*time.Second, cfg.RequestTimeout+10*time.Second), // time to answer once the request's context ends
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return requestCtx },
	}
	// Shutdown neither waits for nor ends WebSockets (hijacked) and SSE streams (endless).
	srv.RegisterOnShutdown(handler.CloseStreams)

	// Bound before "serving" is logged: a taken port is a start-up error, not a line
	// saying the server serves followed by one saying it cannot.
	ln, err := listen(cfg.Port)
	if err != nil {
		return err
	}
	listenErr := make(chan error, 1)
	go func() { listenErr <- srv.Serve(ln) }()
	log.Info("serving", "playground", playgroundURL(ln), "addr", ln.Addr().String(), "database", string(db.Dialect()), "introspection", cfg.Introspection)

	select {
	case err := <-listenErr:
		return err
	case <-ctx.Done():
	}

	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Cut the remaining requests' database work short: Postgres stops running their
		// statements (it would not notice a client that simply went away while it waits
		// for a lock), and each request answers UNAVAILABLE, given a moment to write it.
		cancelRequests()
		answerCtx, cancelAnswer := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancelAnswer()
		_ = srv.Shutdown(answerCtx)
		return fmt.Errorf("shutdown: %w", err)
	}
	// The streams' closing began with Shutdown; "stopped" waits for the last close frame.
	handler.CloseStreams()
	log.Info("stopped")
	return nil
}

// accessTokens signs with JWT_SECRET, or else with the key kept in the database, made by
// the first process that needed it: every process on the database accepts the others'
// tokens, and a restart signs nobody out.
func accessTokens(ctx context.Context, cfg config.Config, db *storage.DB) (*auth.Tokens, error) {
	key := cfg.Auth.JWTSecret
	if len(key) == 0 {
		var err error
		if key, err = db.SigningKey(ctx); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
	}
	return auth.NewTokens(key, cfg.Auth.AccessTokenTTL)
}

// pruneInterval is how often every process deletes what is kept no longer: ended sessions,
// long-spent refresh tokens, events older than EVENT_RETENTION. Pruning is idempotent, and
// batches keep each write short.
const pruneInterval = time.Hour

// prune deletes at start and then every pruneInterval, until ctx ends. A spent refresh
// token is kept for the refresh TTL, so that its reuse within that time still ends its
// session.
func prune(ctx context.Context, db *storage.DB, cfg config.Config, log *slog.Logger) {
	tick := time.NewTicker(pruneInterval)
	defer tick.Stop()
	for {
		now := time.Now()
		for _, p := range []struct {
			what string
			run  func() (int, error)
		}{
			{"sessions", func() (int, error) { return db.PruneSessions(ctx, now, now.Add(-cfg.Auth.RefreshTokenTTL)) }},
			{"events", func() (int, error) { return db.PruneEvents(ctx, now.Add(-cfg.Streams.EventRetention)) }},
		} {
			if n, err := p.run(); err != nil && ctx.Err() == nil {
				log.Warn("pruning failed", "what", p.what, "error", err.Error())
			} else if n > 0 {
				log.Info("pruned", "what", p.what, "rows", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// listen binds port on every interface, naming the port and the way out when it is taken.
func listen(port string) (net.Listener, error) {
	ln, err := net.Listen("tcp", ":"+port)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("port %s is taken (stop what listens there or set PORT to a free port): %w", port, err)
	}
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return ln, nil
}

// playgroundURL is the address to open GraphiQL at, for the log line a terminal turns into
// a link: localhost (the server listens on every interface) and the port ln got, which is
// PORT unless PORT=0 asked for any free one.
func playgroundURL(ln net.Listener) string {
	return fmt.Sprintf("http://localhost:%d/", ln.Addr().(*net.TCPAddr).Port)
}
