// Package config is every setting of the server, read once from the environment into one
// typed value. The README's Configuration section lists the variables.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

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
	return c, nil
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
		s := env(v.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < v.min {
			return l, fmt.Errorf("%s=%q is not a whole number of at least %d", v.name, s, v.min)
		}
		*v.dst = n
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

func (env environment) or(name, fallback string) string {
	if v := env(name); v != "" {
		return v
	}
	return fallback
}
