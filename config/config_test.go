package config

import (
	"log/slog"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/storegraph/storegraph/graph"
	"github.com/storegraph/storegraph/storage"
)

// getenv is env as Load reads the environment: a variable not in it is unset, so the
// machine's own environment cannot leak into a test.
func getenv(env map[string]string) func(string) string {
	return func(name string) string { return env[name] }
}

func TestRequestTimeoutConfiguration(t *testing.T) {
	tests := []struct {
		value   string
		want    time.Duration
		wantErr string
	}{
		{"", 10 * time.Second, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{"soon", 0, `REQUEST_TIMEOUT="soon" is not a positive duration such as 10s`},
		{"0s", 0, `REQUEST_TIMEOUT="0s" is not a positive duration such as 10s`},
		{"-1s", 0, `REQUEST_TIMEOUT="-1s" is not a positive duration such as 10s`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			cfg, err := Load(getenv(map[string]string{"REQUEST_TIMEOUT": tt.value}))
			if !checkError(t, err, tt.wantErr) {
				return
			}
			if cfg.RequestTimeout != tt.want {
				t.Fatalf("RequestTimeout = %v, want %v", cfg.RequestTimeout, tt.want)
			}
		})
	}
}

// checkError fails t unless err has the message want, or is nil when want is empty. It
// reports whether err is nil, that is whether there is a result left to check.
func checkError(t *testing.T, err error, want string) bool {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("error %v, want none", err)
	case want != "" && (err == nil || err.Error() != want):
		t.Fatalf("error %v, want %q", err, want)
	}
	return err == nil
}

func TestConfigDefaultsWithNothingSet(t *testing.T) {
	cfg, err := Load(getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	// Limits, CORS, Auth and Streams have tests of their own.
	cfg.Limits, cfg.CORS, cfg.Auth, cfg.Streams = Limits{}, CORS{}, Auth{}, Streams{}
	// An empty DATABASE_URL is storage.DefaultDatabaseURL; a zero Pool keeps storage's sizes.
	want := Config{Port: "8080", Introspection: true, ShutdownTimeout: 15 * time.Second, RequestTimeout: 10 * time.Second, LogLevel: slog.LevelInfo}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("defaults = %+v\nwant       %+v", cfg, want)
	}
}

func TestConfigVariablesAreParsedOrRefusedByName(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(Config) bool
		wantErr string
	}{
		{"pool variables set the pool", map[string]string{"DB_MAX_CONNS": "12", "DB_MAX_IDLE_CONNS": "3", "DB_CONN_MAX_LIFETIME": "5m"},
			func(c Config) bool {
				return c.Pool == storage.Pool{MaxOpen: 12, MaxIdle: 3, MaxLifetime: 5 * time.Minute}
			}, ""},
		{"the other variables set their fields", map[string]string{
			"PORT": "9090", "DATABASE_URL": "sqlite::memory:", "GRAPHQL_INTROSPECTION": "false",
			"SHUTDOWN_TIMEOUT": "3s", "LOG_LEVEL": "debug",
		}, func(c Config) bool {
			return c.Port == "9090" && c.DatabaseURL == "sqlite::memory:" && !c.Introspection &&
				c.ShutdownTimeout == 3*time.Second && c.LogLevel == slog.LevelDebug
		}, ""},
		{"DB_MAX_CONNS of 0", map[string]string{"DB_MAX_CONNS": "0"}, nil, `DB_MAX_CONNS="0" is not a positive whole number`},
		{"DB_MAX_CONNS negative", map[string]string{"DB_MAX_CONNS": "-2"}, nil, `DB_MAX_CONNS="-2" is not a positive whole number`},
		{"DB_MAX_CONNS not a number", map[string]string{"DB_MAX_CONNS": "ten"}, nil, `DB_MAX_CONNS="ten" is not a positive whole number`},
		{"DB_MAX_IDLE_CONNS fractional", map[string]string{"DB_MAX_IDLE_CONNS": "1.5"}, nil, `DB_MAX_IDLE_CONNS="1.5" is not a positive whole number`},
		{"DB_MAX_IDLE_CONNS of 0", map[string]string{"DB_MAX_IDLE_CONNS": "0"}, nil, `DB_MAX_IDLE_CONNS="0" is not a positive whole number`},
		{"DB_CONN_MAX_LIFETIME without a unit", map[string]string{"DB_CONN_MAX_LIFETIME": "30"}, nil, `DB_CONN_MAX_LIFETIME="30" is not a positive duration such as 30m`},
		{"DB_CONN_MAX_LIFETIME of 0s", map[string]string{"DB_CONN_MAX_LIFETIME": "0s"}, nil, `DB_CONN_MAX_LIFETIME="0s" is not a positive duration such as 30m`},
		{"DB_CONN_MAX_LIFETIME negative", map[string]string{"DB_CONN_MAX_LIFETIME": "-1m"}, nil, `DB_CONN_MAX_LIFETIME="-1m" is not a positive duration such as 30m`},
		{"PORT out of range", map[string]string{"PORT": "70000"}, nil, `PORT="70000" is not a port number`},
		{"PORT not a number", map[string]string{"PORT": "http"}, nil, `PORT="http" is not a port number`},
		{"GRAPHQL_INTROSPECTION not a boolean", map[string]string{"GRAPHQL_INTROSPECTION": "maybe"}, nil, `GRAPHQL_INTROSPECTION="maybe" is not true or false`},
		{"SHUTDOWN_TIMEOUT not a duration", map[string]string{"SHUTDOWN_TIMEOUT": "later"}, nil, `SHUTDOWN_TIMEOUT="later" is not a positive duration such as 15s`},
		{"LOG_LEVEL unknown", map[string]string{"LOG_LEVEL": "loud"}, nil, `LOG_LEVEL="loud" is not debug, info, warn or error`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(getenv(tt.env))
			if checkError(t, err, tt.wantErr) && !tt.check(cfg) {
				t.Fatalf("got %+v", cfg)
			}
		})
	}
}

func TestLoadLimits(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Limits
		wantErr string
	}{
		{"unset keeps the defaults", nil, Limits{BodyBytes: 1 << 20, Document: graph.DefaultLimits, Admission: graph.DefaultAdmission}, ""},
		{"each variable sets its limit", map[string]string{
			"MAX_BODY_BYTES": "2048", "MAX_QUERY_BYTES": "1024", "MAX_QUERY_TOKENS": "100", "MAX_QUERY_FIELDS": "80",
			"MAX_FIELD_REPEATS": "4", "MAX_QUERY_DEPTH": "5", "MAX_QUERY_ALIASES": "3", "MAX_QUERY_COMPLEXITY": "1000",
			"MAX_PAGE_SIZE": "50", "MAX_INFLIGHT_COST": "5000", "ADMISSION_TIMEOUT": "2s",
		}, Limits{BodyBytes: 2048,
			Document:  graph.Limits{Bytes: 1024, Tokens: 100, Fields: 80, FieldRepeats: 4, Depth: 5, Aliases: 3, Complexity: 1000, PageSize: 50},
			Admission: graph.Admission{Budget: 5000, Wait: 2 * time.Second}}, ""},
		{"0 turns a limit off", map[string]string{"MAX_QUERY_DEPTH": "0", "MAX_INFLIGHT_COST": "0"},
			Limits{BodyBytes: 1 << 20,
				Document:  graph.Limits{Bytes: 32 << 10, Tokens: 5000, Fields: 2000, FieldRepeats: 20, Aliases: 30, Complexity: 200_000, PageSize: 100},
				Admission: graph.Admission{Wait: 500 * time.Millisecond}}, ""},
		{"a page size of 0 is refused", map[string]string{"MAX_PAGE_SIZE": "0"}, Limits{}, `MAX_PAGE_SIZE="0" is not a whole number of at least 1`},
		{"a negative limit is refused", map[string]string{"MAX_QUERY_ALIASES": "-1"}, Limits{}, `MAX_QUERY_ALIASES="-1" is not a whole number of at least 0`},
		{"a size with a unit is refused", map[string]string{"MAX_BODY_BYTES": "1MiB"}, Limits{}, `MAX_BODY_BYTES="1MiB" is not a whole number of at least 0`},
		{"an admission timeout without a unit is refused", map[string]string{"ADMISSION_TIMEOUT": "500"}, Limits{},
			`ADMISSION_TIMEOUT="500" is not a positive duration such as 500ms`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(getenv(tt.env))
			if !checkError(t, err, tt.wantErr) {
				return
			}
			if got := cfg.Limits; got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadCORS(t *testing.T) {
	tests := []struct {
		name, origins, credentials string
		want                       CORS
		wantErr                    string
	}{
		{"unset allows no other origin", "", "", CORS{}, ""},
		{"a list, trimmed, without trailing slashes", " https://a.example/, http://localhost:5173 ", "",
			CORS{Origins: []string{"https://a.example", "http://localhost:5173"}}, ""},
		{"credentials on", "https://a.example", "true", CORS{Origins: []string{"https://a.example"}, Credentials: true}, ""},
		{"credentials must be a boolean", "https://a.example", "yes please", CORS{}, `CORS_ALLOW_CREDENTIALS="yes please" is not true or false`},
		{"credentials refuse a wildcard", "*", "true", CORS{}, `CORS_ALLOW_CREDENTIALS=true needs CORS_ORIGINS to list origins, not "*"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(getenv(map[string]string{"CORS_ORIGINS": tt.origins, "CORS_ALLOW_CREDENTIALS": tt.credentials}))
			if !checkError(t, err, tt.wantErr) {
				return
			}
			if got := cfg.CORS; !slices.Equal(got.Origins, tt.want.Origins) || got.Credentials != tt.want.Credentials {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadAuth(t *testing.T) {
	secret := "0123456789abcdef0123456789abcdef" // 32 bytes
	defaults := Auth{AccessTokenTTL: 15 * time.Minute, RefreshTokenTTL: 720 * time.Hour,
		RatePerAddress: 20, RatePerEmail: 5, HashConcurrency: runtime.GOMAXPROCS(0)}
	tests := []struct {
		name    string
		env     map[string]string
		want    func(Auth) Auth
		wantErr string
	}{
		{"defaults: a key from the database, 15m and 30 days, 20 and 5 tries a minute", nil,
			func(a Auth) Auth { return a }, ""},
		{"every variable set", map[string]string{
			"JWT_SECRET": secret, "ACCESS_TOKEN_TTL": "5m", "REFRESH_TOKEN_TTL": "24h",
			"AUTH_RATE_PER_ADDRESS": "0", "AUTH_RATE_PER_EMAIL": "3", "PASSWORD_HASH_CONCURRENCY": "1",
		}, func(Auth) Auth {
			return Auth{JWTSecret: []byte(secret), AccessTokenTTL: 5 * time.Minute, RefreshTokenTTL: 24 * time.Hour,
				RatePerAddress: 0, RatePerEmail: 3, HashConcurrency: 1}
		}, ""},
		// The message names the length, never the value.
		{"JWT_SECRET of 31 bytes", map[string]string{"JWT_SECRET": secret[1:]}, nil, "JWT_SECRET must be at least 32 bytes (it has 31)"},
		{"ACCESS_TOKEN_TTL not a duration", map[string]string{"ACCESS_TOKEN_TTL": "15"}, nil, `ACCESS_TOKEN_TTL="15" is not a positive duration such as 15m`},
		{"REFRESH_TOKEN_TTL of 0s", map[string]string{"REFRESH_TOKEN_TTL": "0s"}, nil, `REFRESH_TOKEN_TTL="0s" is not a positive duration such as 720h`},
		{"AUTH_RATE_PER_EMAIL negative", map[string]string{"AUTH_RATE_PER_EMAIL": "-1"}, nil, `AUTH_RATE_PER_EMAIL="-1" is not a whole number of at least 0`},
		{"PASSWORD_HASH_CONCURRENCY of 0", map[string]string{"PASSWORD_HASH_CONCURRENCY": "0"}, nil, `PASSWORD_HASH_CONCURRENCY="0" is not a whole number of at least 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(getenv(tt.env))
			if !checkError(t, err, tt.wantErr) {
				return
			}
			if want := tt.want(defaults); !reflect.DeepEqual(cfg.Auth, want) {
				t.Fatalf("Auth = %+v\nwant   %+v", cfg.Auth, want)
			}
		})
	}
}

func TestLoadStreams(t *testing.T) {
	defaults := Streams{EventRetention: 24 * time.Hour, InitTimeout: 10 * time.Second, PingInterval: 15 * time.Second,
		WriteTimeout: 10 * time.Second, EventSweep: time.Second, MaxSubscriptionsPerConnection: 100, MaxConnections: 10000, QueueSize: 64}
	tests := []struct {
		name    string
		env     map[string]string
		want    Streams
		wantErr string
	}{
		{"defaults", nil, defaults, ""},
		{"every variable set", map[string]string{
			"EVENT_RETENTION": "1h", "WS_INIT_TIMEOUT": "2s", "WS_PING_INTERVAL": "5s", "STREAM_WRITE_TIMEOUT": "3s",
			"EVENT_SWEEP_INTERVAL": "250ms", "MAX_SUBSCRIPTIONS_PER_CONNECTION": "2", "MAX_STREAM_CONNECTIONS": "7",
			"SUBSCRIPTION_QUEUE": "1",
		}, Streams{EventRetention: time.Hour, InitTimeout: 2 * time.Second, PingInterval: 5 * time.Second,
			WriteTimeout: 3 * time.Second, EventSweep: 250 * time.Millisecond, MaxSubscriptionsPerConnection: 2,
			MaxConnections: 7, QueueSize: 1}, ""},
		{"EVENT_RETENTION without a unit", map[string]string{"EVENT_RETENTION": "24"}, Streams{}, `EVENT_RETENTION="24" is not a positive duration such as 24h`},
		{"EVENT_SWEEP_INTERVAL of 0s", map[string]string{"EVENT_SWEEP_INTERVAL": "0s"}, Streams{}, `EVENT_SWEEP_INTERVAL="0s" is not a positive duration such as 1s`},
		{"WS_INIT_TIMEOUT of 0s", map[string]string{"WS_INIT_TIMEOUT": "0s"}, Streams{}, `WS_INIT_TIMEOUT="0s" is not a positive duration such as 10s`},
		{"MAX_STREAM_CONNECTIONS of 0", map[string]string{"MAX_STREAM_CONNECTIONS": "0"}, Streams{}, `MAX_STREAM_CONNECTIONS="0" is not a whole number of at least 1`},
		{"SUBSCRIPTION_QUEUE not a number", map[string]string{"SUBSCRIPTION_QUEUE": "many"}, Streams{}, `SUBSCRIPTION_QUEUE="many" is not a whole number of at least 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(getenv(tt.env))
			if checkError(t, err, tt.wantErr) && !reflect.DeepEqual(cfg.Streams, tt.want) {
				t.Fatalf("Streams = %+v\nwant      %+v", cfg.Streams, tt.want)
			}
		})
	}
}
