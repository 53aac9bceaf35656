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
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || cfg.requestTimeout != tt.want {
				t.Fatalf("requestTimeout = %v (%v), want %v", cfg.requestTimeout, err, tt.want)
			}
		})
	}
}
