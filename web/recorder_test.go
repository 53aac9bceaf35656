package web

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRecorderPassesFlushThrough(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flush func(http.ResponseWriter) error
	}{
		{"as an http.Flusher", func(w http.ResponseWriter) error {
			f, ok := w.(http.Flusher)
			if !ok {
				return errors.New("not an http.Flusher")
			}
			f.Flush()
			return nil
		}},
		{"through an http.ResponseController", func(w http.ResponseWriter) error {
			return http.NewResponseController(w).Flush()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			under := httptest.NewRecorder()
			rec := &responseRecorder{ResponseWriter: under}
			if err := tc.flush(rec); err != nil {
				t.Fatal(err)
			}
			// Flushing sends the header: the status is 200 from then on, and noted.
			if !under.Flushed || rec.status != http.StatusOK {
				t.Fatalf("flushed %v, status noted %d; want true, 200", under.Flushed, rec.status)
			}
		})
	}
}

func TestRecorderPassesHijackThrough(t *testing.T) {
	// A real connection through the whole middleware, as a WebSocket upgrade would take it.
	logs := &logBuffer{}
	var statusAfter int
	h := middleware(slog.New(LogHandler(slog.NewJSONHandler(logs, nil))), &metrics{operations: map[string]bool{}},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hj, ok := w.(http.Hijacker)
			if !ok {
				http.Error(w, "not an http.Hijacker", http.StatusInternalServerError)
				return
			}
			conn, rw, err := hj.Hijack()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			defer conn.Close()
			statusAfter = w.(*responseRecorder).status
			_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
			_ = rw.Flush()
		}))
	// The access line is written when the middleware returns, which may be after the client
	// has read the response; httptest's Close does not wait for hijacked connections.
	served := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(served)
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/upgrade")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hijacked" {
		t.Fatalf("got %d %q, want what the handler wrote on the hijacked connection", resp.StatusCode, body)
	}
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not return within 10s of the response")
	}
	// The upgrade is noted as 101, so that panic recovery does not answer on the connection.
	if statusAfter != http.StatusSwitchingProtocols {
		t.Fatalf("status noted after the hijack: %d, want 101", statusAfter)
	}
	var request map[string]any
	for _, line := range logLines(t, logs.String()) {
		if line["msg"] == "request" {
			request = line
		}
	}
	if request == nil || request["status"] != float64(http.StatusSwitchingProtocols) {
		t.Fatalf("access log line = %v, want status 101\n%s", request, logs)
	}

	// A writer that cannot be hijacked says so, as it would without the recorder.
	rec := &responseRecorder{ResponseWriter: httptest.NewRecorder()}
	if _, _, err := rec.Hijack(); !errors.Is(err, http.ErrNotSupported) || rec.status != 0 {
		t.Fatalf("Hijack of an httptest.ResponseRecorder: %v, status %d; want http.ErrNotSupported, 0", err, rec.status)
	}
}

// deadlineWriter is a writer with a write deadline, and no more, as some servers' are.
type deadlineWriter struct {
	http.ResponseWriter
	deadline time.Time
}

func (w *deadlineWriter) SetWriteDeadline(t time.Time) error {
	w.deadline = t
	return nil
}

func TestRecorderUnwrapsForResponseController(t *testing.T) {
	under := &deadlineWriter{ResponseWriter: httptest.NewRecorder()}
	var w http.ResponseWriter = &responseRecorder{ResponseWriter: under}
	if got := w.(interface{ Unwrap() http.ResponseWriter }).Unwrap(); got != under {
		t.Fatalf("Unwrap = %T, want the underlying writer", got)
	}
	deadline := time.Now().Add(time.Minute)
	if err := http.NewResponseController(w).SetWriteDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	if !under.deadline.Equal(deadline) {
		t.Fatalf("underlying deadline %v, want %v", under.deadline, deadline)
	}
}
