package main

import (
	"testing"
	"time"
)

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
			t.Setenv("REQUEST_TIMEOUT", tt.value)
			cfg, err := loadConfig()
			if !checkError(t, err, tt.wantErr) {
				return
			}
			if cfg.requestTimeout != tt.want {
				t.Fatalf("requestTimeout = %v, want %v", cfg.requestTimeout, tt.want)
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
