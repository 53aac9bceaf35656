// Command storegraph serves the store catalogue over GraphQL.
//
//	storegraph                     migrate, then serve on $PORT
//	storegraph migrate up|down [--yes]|status
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
	"strconv"
	"syscall"
	"time"

	"github.com/storegraph/storegraph/graph"
	"github.com/storegraph/storegraph/graph/playground"
	"github.com/storegraph/storegraph/storage"
)

// config is everything the environment sets.
type config struct {
	port            string
	databaseURL     string
	introspection   bool
	shutdownTimeout time.Duration
	requestTimeout  time.Duration
	logLevel        slog.Level
	pool            storage.Pool
	limits          limits
	cors            corsPolicy
}

func loadConfig() (config, error) {
	c := config{
		port:          envOr("PORT", "8080"),
		databaseURL:   os.Getenv("DATABASE_URL"),
		introspection: true,
	}
	if _, err := strconv.ParseUint(c.port, 10, 16); err != nil {
		return c, fmt.Errorf("PORT=%q is not a port number", c.port)
	}
	if v := os.Getenv("GRAPHQL_INTROSPECTION"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("GRAPHQL_INTROSPECTION=%q is not true or false", v)
		}
		c.introspection = b
	}
	var err error
	if c.shutdownTimeout, err = envDuration("SHUTDOWN_TIMEOUT", 15*time.Second, "15s"); err != nil {
		return c, err
	}
	if c.requestTimeout, err = envDuration("REQUEST_TIMEOUT", 10*time.Second, "10s"); err != nil {
		return c, err
	}
	if c.pool.MaxOpen, err = envInt("DB_MAX_CONNS"); err != nil {
		return c, err
	}
	if c.pool.MaxIdle, err = envInt("DB_MAX_IDLE_CONNS"); err != nil {
		return c, err
	}
	// Zero leaves the pool's own default (storage.Pool).
	if c.pool.MaxLifetime, err = envDuration("DB_CONN_MAX_LIFETIME", 0, "30m"); err != nil {
		return c, err
	}
	if v := os.Getenv("LOG_LEVEL"); v != "" {
		if err := c.logLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("LOG_LEVEL=%q is not debug, info, warn or error", v)
		}
	}
	if c.limits, err = loadLimits(); err != nil {
		return c, err
	}
	if c.cors, err = loadCORS(); err != nil {
		return c, err
	}
	return c, nil
}

// envInt reads a positive integer; unset is 0, which means "the default".
func envInt(name string) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive whole number", name, v)
	}
	return n, nil
}

// envDuration reads a positive duration, or returns fallback when the variable is unset;
// example shows the form in the error message.
func envDuration(name string, fallback time.Duration, example string) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return fallback, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive duration such as %s", name, v, example)
	}
	return d, nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "storegraph:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log := slog.New(requestIDHandler{slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel})})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch {
	case len(args) == 0:
		return serve(ctx, cfg, log)
	case args[0] == "migrate":
		return migrate(ctx, cfg, log, args[1:], stdConsole())
	default:
		return errors.New("usage: storegraph [migrate up|down [--yes]|status]")
	}
}

func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	db, err := storage.Open(ctx, cfg.databaseURL, log, cfg.pool)
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

	// Requests run under a context of their own: a signal does not cancel them, so that
	// they may finish during the grace period, but the end of the grace period does.
	requestCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	srv := &http.Server{
		Addr:              ":" + cfg.port,
		Handler:           routes(cfg, db, log),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      max(60*time.Second, cfg.requestTimeout+10*time.Second), // time to answer once the request's context ends
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return requestCtx },
	}

	// Bound before "serving" is logged: a taken port is a start-up error, not a line
	// saying the server serves followed by one saying it cannot.
	ln, err := listen(cfg.port)
	if err != nil {
		return err
	}
	listenErr := make(chan error, 1)
	go func() { listenErr <- srv.Serve(ln) }()
	log.Info("serving", "playground", playgroundURL(ln), "addr", ln.Addr().String(), "database", string(db.Dialect()), "introspection", cfg.introspection)

	select {
	case err := <-listenErr:
		return err
	case <-ctx.Done():
	}

	log.Info("shutting down", "timeout", cfg.shutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
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
	log.Info("stopped")
	return nil
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

// routes is the server's HTTP handler: every endpoint, inside the per-request middleware
// (request ID, access log and metrics, panic recovery).
func routes(cfg config, db *storage.DB, log *slog.Logger) http.Handler {
	m := newMetrics(db)
	mux := http.NewServeMux()
	mux.Handle("/graphql", cfg.cors.wrap(withTimeout(cfg.requestTimeout, graph.NewHandler(db, log, graph.Options{
		Introspection: cfg.introspection,
		MaxBodyBytes:  int64(cfg.limits.bodyBytes),
		Limits:        cfg.limits.document,
		Admission:     cfg.limits.admission,
	}))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		pingCtx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := db.Ping(pingCtx); err != nil {
			log.WarnContext(r.Context(), "database not ready", "error", err.Error())
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", m.handler())
	mux.Handle("GET /schema.graphql", graph.NewSchemaHandler(cfg.introspection))
	mux.Handle("/", playground.New("/graphql"))
	return middleware(log, m, mux)
}

// middleware wraps every endpoint in the per-request chain: the request ID outermost, so
// that every line logged carries it; the access log and metrics around panic recovery, so
// that a recovered panic is logged and counted with the status it was answered with.
func middleware(log *slog.Logger, m *metrics, next http.Handler) http.Handler {
	return withRequestID(accessLog(log, m, recoverPanics(log, next)))
}

// accessLog writes one line per request: method, path, GraphQL operation, status, duration;
// GraphQL requests are also counted in the metrics.
func accessLog(log *slog.Logger, m *metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &responseRecorder{ResponseWriter: w}
		var info graph.RequestInfo
		next.ServeHTTP(rec, r.WithContext(graph.WithRequestInfo(r.Context(), &info)))
		elapsed := time.Since(start)
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("operation", truncateOperation(info.Operation)),
			slog.Int64("statements", info.Statements),
			slog.Int("status", rec.Status()),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		)
		if r.URL.Path == "/graphql" {
			m.observe(&info, rec.Status(), elapsed)
		}
	})
}
