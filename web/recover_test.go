package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/storegraph/storegraph/graph"
)

func TestPanicOutsideResolversIsInternalServerErrorWithItsStackLogged(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	h := recoverPanics(log, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		var m map[string]int
		m["boom"]++ // assignment to entry in nil map
	}))

	var info graph.RequestInfo
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r.WithContext(graph.WithRequestInfo(r.Context(), &info)))

	want := `{"errors":[{"extensions":{"code":"INTERNAL_SERVER_ERROR"},"message":"internal error"}]}`
	if rec.Code != http.StatusInternalServerError || strings.TrimSpace(rec.Body.String()) != want {
		t.Fatalf("got %d %s, want 500 %s", rec.Code, rec.Body, want)
	}
	if codes := info.ErrorCodes(); len(codes) != 1 || codes[0] != "INTERNAL_SERVER_ERROR" {
		t.Fatalf("recorded codes %v, want [INTERNAL_SERVER_ERROR]", codes)
	}
	for _, part := range []string{`"msg":"handler panicked"`, `assignment to entry in nil map`, `TestPanicOutsideResolversIsInternalServerErrorWithItsStackLogged`} {
		if !strings.Contains(logs.String(), part) {
			t.Fatalf("log lacks %q:\n%s", part, logs.String())
		}
	}
}

func TestPanicAfterTheAnswerStartedAbortsTheConnection(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantLog bool
	}{
		{"a panic after writing", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"data":`))
			panic("half way")
		}, true},
		{"a deliberate abort passes through unlogged", func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := recoverPanics(slog.New(slog.NewJSONHandler(&logs, nil)), tt.handler)
			defer func() {
				if p := recover(); p != http.ErrAbortHandler {
					t.Fatalf("panicked with %v, want http.ErrAbortHandler", p)
				}
				if logged := strings.Contains(logs.String(), "handler panicked"); logged != tt.wantLog {
					t.Fatalf("logged = %v, want %v: %s", logged, tt.wantLog, logs.String())
				}
			}()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		})
	}
}

func TestPanicRecoveryNotesTheStatusInTheAccessLogsRecorder(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantPanic  any
		wantStatus int
	}{
		{"a panic before writing is logged as 500", func(http.ResponseWriter, *http.Request) {
			panic("boom")
		}, nil, http.StatusInternalServerError},
		{"a panic after writing still aborts", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			panic("half way")
		}, http.ErrAbortHandler, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &responseRecorder{ResponseWriter: httptest.NewRecorder()} // as accessLog wraps it
			h := recoverPanics(slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)), tt.handler)
			defer func() {
				if p := recover(); p != tt.wantPanic {
					t.Fatalf("panicked with %v, want %v", p, tt.wantPanic)
				}
				if rec.Status() != tt.wantStatus {
					t.Fatalf("status %d, want %d", rec.Status(), tt.wantStatus)
				}
			}()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		})
	}
}
