// Package config is every setting of the server, read once from the environment into one
// typed value. The README's Configuration section lists the variables.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/storegraph/storegraph/auth"
	"github.com/storegraph/storegraph/graph"
	"github.com/storegraph/storegraph/storage"
)

// Config is everything the environment sets.
type Config struct {
	Port            string // PORT
	DatabaseURL     string // DATABASE_URL; empty is storage.DefaultDatabaseURL
	Introspection   bool   // GRAPHQL_INTROSPECTION
	ShutdownTimeout time.Duration
	RequestTimeout  time.Duration
	LogLevel        slog.Level
	Pool            storage.Pool // DB_*; zero fields keep storage's defaults
	Limits          Limits
	CORS            CORS
	Auth            Auth
	Streams         Streams
}

// Streams bound subscriptions and the connections that carry them (WebSocket, server-sent
// events), and say how long the change log is kept.
type Streams struct {
	EventRetention time.Duration // EVENT_RETENTION: events older than this are pruned
	InitTimeout    time.Duration // WS_INIT_TIMEOUT: connection_init must arrive within it
	PingInterval   time.Duration // WS_PING_INTERVAL: keep-alive pings (and SSE comments)
	WriteTimeout   time.Duration // STREAM_WRITE_TIMEOUT: one message's write to a client
	// EventSweep (EVENT_SWEEP_INTERVAL) is how long a process goes without a wake-up before it
	// looks at the change log for writes made outside the server, which wake nobody.
	EventSweep time.Duration
	// MaxSubscriptionsPerConnection bounds the operations one WebSocket runs at once.
	MaxSubscriptionsPerConnection int
	// MaxConnections bounds the WebSocket and SSE connections of the process.
	MaxConnections int
	// QueueSize bounds the events waiting for one subscription; beyond it the subscription
	// reads the log itself.
	QueueSize int
}

// Auth is how users sign in and how hard the server makes guessing their passwords.
type Auth struct {
	// JWTSecret signs access tokens (JWT_SECRET, at least 32 bytes). Empty: a key generated
	// once and kept in the database, shared by every process on it.
	JWTSecret       []byte
	AccessTokenTTL  time.Duration // ACCESS_TOKEN_TTL
	RefreshTokenTTL time.Duration // REFRESH_TOKEN_TTL
	// RatePerAddress and RatePerEmail bound register and login attempts per minute (and in
	// a burst) per client address and per email; 0 turns a limit off.
	RatePerAddress int
	RatePerEmail   int
	// HashConcurrency bounds the password hashes computed at once (19 MiB each).
	HashConcurrency int
}

// Limits bound one GraphQL request: its body, then its document, then the room it takes
// among the operations executing at once.
type Limits struct {
	BodyBytes int
	Document  graph.Limits
	Admission graph.Admission
}

// CORS says which other origins' pages may call the API from a browser.
type CORS struct {
	Origins     []string // exact origins, e.g. "https://shop.example"; "*" allows any
	Credentials bool     // let browsers send cookies and HTTP auth along
}

// Load reads every setting through getenv (os.Getenv in the server, a map in tests). An
// empty value is the same as an unset one.
func Load(getenv func(string) string) (Config, error) {
	env := environment(getenv)
	c := Config{
		Port:          env.or("PORT", "8080"),
		DatabaseURL:   env("DATABASE_URL"),
		Introspection: true,
	}
	if _, err := strconv.ParseUint(c.Port, 10, 16); err != nil {
		return c, fmt.Errorf("PORT=%q is not a port number", c.Port)
	}
	if v := env("GRAPHQL_INTROSPECTION"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("GRAPHQL_INTROSPECTION=%q is not true or false", v)
		}
		c.Introspection = b
	}
	var err error
	if c.ShutdownTimeout, err = env.duration("SHUTDOWN_TIMEOUT", 15*time.Second, "15s"); err != nil {
		return c, err
	}
	if c.RequestTimeout, err = env.duration("REQUEST_TIMEOUT", 10*time.Second, "10s"); err != nil {
		return c, err
	}
	if c.Pool.MaxOpen, err = env.int("DB_MAX_CONNS"); err != nil {
		return c, err
	}
	if c.Pool.MaxIdle, err = env.int("DB_MAX_IDLE_CONNS"); err != nil {
		return c, err
	}
	// Zero leaves the pool's own default (storage.Pool).
	if c.Pool.MaxLifetime, err = env.duration("DB_CONN_MAX_LIFETIME", 0, "30m"); err != nil {
		return c, err
	}
	if v := env("LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("LOG_LEVEL=%q is not debug, info, warn or error", v)
		}
	}
	if c.Limits, err = loadLimits(env); err != nil {
		return c, err
	}
	if c.CORS, err = loadCORS(env); err != nil {
		return c, err
	}
	if c.Auth, err = loadAuth(env); err != nil {
		return c, err
	}
	if c.Streams, err = loadStreams(env); err != nil {
		return c, err
	}
	return c, nil
}

// loadStreams reads EVENT_RETENTION, EVENT_SWEEP_INTERVAL, the WS_* and STREAM_* timings and
// the stream limits.
func loadStreams(env environment) (Streams, error) {
	s := Streams{MaxSubscriptionsPerConnection: 100, MaxConnections: 10000, QueueSize: 64}
	var err error
	for _, d := range []struct {
		name     string
		dst      *time.Duration
		fallback time.Duration
		example  string
	}{
		{"EVENT_RETENTION", &s.EventRetention, 24 * time.Hour, "24h"},
		{"EVENT_SWEEP_INTERVAL", &s.EventSweep, time.Second, "1s"},
		{"WS_INIT_TIMEOUT", &s.InitTimeout, 10 * time.Second, "10s"},
		{"WS_PING_INTERVAL", &s.PingInterval, 15 * time.Second, "15s"},
		{"STREAM_WRITE_TIMEOUT", &s.WriteTimeout, 10 * time.Second, "10s"},
	} {
		if *d.dst, err = env.duration(d.name, d.fallback, d.example); err != nil {
			return s, err
		}
	}
	for _, v := range []struct {
		name string
		dst  *int
	}{
		{"MAX_SUBSCRIPTIONS_PER_CONNECTION", &s.MaxSubscriptionsPerConnection},
		{"MAX_STREAM_CONNECTIONS", &s.MaxConnections},
		{"SUBSCRIPTION_QUEUE", &s.QueueSize},
	} {
		if err := env.atLeast(v.name, v.dst, 1); err != nil {
			return s, err
		}
	}
	return s, nil
}

// loadAuth reads JWT_SECRET, the token lifetimes, the sign-in rate limits and
// PASSWORD_HASH_CONCURRENCY.
func loadAuth(env environment) (Auth, error) {
	a := Auth{RatePerAddress: 20, RatePerEmail: 5, HashConcurrency: runtime.GOMAXPROCS(0)}
	if s := env("JWT_SECRET"); s != "" {
		if len(s) < auth.MinKeyBytes {
			// The value itself is a secret: the message gives its length only.
			return a, fmt.Errorf("JWT_SECRET must be at least %d bytes (it has %d)", auth.MinKeyBytes, len(s))
		}
		a.JWTSecret = []byte(s)
	}
	var err error
	if a.AccessTokenTTL, err = env.duration("ACCESS_TOKEN_TTL", 15*time.Minute, "15m"); err != nil {
		return a, err
	}
	if a.RefreshTokenTTL, err = env.duration("REFRESH_TOKEN_TTL", 30*24*time.Hour, "720h"); err != nil {
		return a, err
	}
	for _, v := range []struct {
		name string
		dst  *int
		min  int
	}{
		{"AUTH_RATE_PER_ADDRESS", &a.RatePerAddress, 0},
		{"AUTH_RATE_PER_EMAIL", &a.RatePerEmail, 0},
		{"PASSWORD_HASH_CONCURRENCY", &a.HashConcurrency, 1},
	} {
		if err := env.atLeast(v.name, v.dst, v.min); err != nil {
			return a, err
		}
	}
	return a, nil
}

// loadLimits reads the MAX_* variables and ADMISSION_TIMEOUT; an unset one keeps its
// default, 0 turns a limit off (except MAX_PAGE_SIZE, which must be at least 1).
func loadLimits(env environment) (Limits, error) {
	l := Limits{BodyBytes: 1 << 20, Document: graph.DefaultLimits, Admission: graph.DefaultAdmission}
	for _, v := range []struct {
		name string
		dst  *int
		min  int
	}{
		{"MAX_BODY_BYTES", &l.BodyBytes, 0},
		{"MAX_QUERY_BYTES", &l.Document.Bytes, 0},
		{"MAX_QUERY_TOKENS", &l.Document.Tokens, 0},
		{"MAX_QUERY_FIELDS", &l.Document.Fields, 0},
		{"MAX_FIELD_REPEATS", &l.Document.FieldRepeats, 0},
		{"MAX_QUERY_DEPTH", &l.Document.Depth, 0},
		{"MAX_QUERY_ALIASES", &l.Document.Aliases, 0},
		{"MAX_QUERY_COMPLEXITY", &l.Document.Complexity, 0},
		{"MAX_PAGE_SIZE", &l.Document.PageSize, 1},
		{"MAX_INFLIGHT_COST", &l.Admission.Budget, 0},
	} {
		if err := env.atLeast(v.name, v.dst, v.min); err != nil {
			return l, err
		}
	}
	var err error
	l.Admission.Wait, err = env.duration("ADMISSION_TIMEOUT", l.Admission.Wait, "500ms")
	return l, err
}

// loadCORS reads CORS_ORIGINS (comma-separated) and CORS_ALLOW_CREDENTIALS.
func loadCORS(env environment) (CORS, error) {
	var p CORS
	for o := range strings.SplitSeq(env("CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			p.Origins = append(p.Origins, strings.TrimSuffix(o, "/"))
		}
	}
	if v := env("CORS_ALLOW_CREDENTIALS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return p, errors.New("CORS_ALLOW_CREDENTIALS=" + strconv.Quote(v) + " is not true or false")
		}
		p.Credentials = b
	}
	if p.Credentials && slices.Contains(p.Origins, "*") {
		// Browsers refuse credentials with a wildcard origin; echoing any origin instead
		// would let every site act as the signed-in user.
		return p, errors.New(`CORS_ALLOW_CREDENTIALS=true needs CORS_ORIGINS to list origins, not "*"`)
	}
	return p, nil
}

// environment is the getenv that Load was given, with the readers of its typed values.
type environment func(string) string

// int reads a positive integer; unset is 0, which means "the default".
func (env environment) int(name string) (int, error) {
	v := env(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive whole number", name, v)
	}
	return n, nil
}

// duration reads a positive duration, or returns fallback when the variable is unset;
// example shows the form in the error message.
func (env environment) duration(name string, fallback time.Duration, example string) (time.Duration, error) {
	v := env(name)
	if v == "" {
		return fallback, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive duration such as %s", name, v, example)
	}
	return d, nil
}

// atLeast reads a whole number of at least min into dst; unset leaves dst as it is.
func (env environment) atLeast(name string, dst *int, min int) error {
	s := env(name)
	if s == "" {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min {
		return fmt.Errorf("%s=%q is not a whole number of at least %d", name, s, min)
	}
	*dst = n
	return nil
}

func (env environment) or(name, fallback string) string {
	if v := env(name); v != "" {
		return v
	}
	return fallback
}
