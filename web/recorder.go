package web

import (
	"bufio"
	"net"
	"net/http"
)

// responseRecorder notes the status of a response as it is written, for the access log and
// for panic recovery (which must not answer twice). It passes Flush and Hijack through, so
// that a streaming response or a WebSocket upgrade works through it as it would without it.
type responseRecorder struct {
	http.ResponseWriter
	status int // 0 until anything is written
}

func (r *responseRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *responseRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush sends what is buffered, the header first if it is not out yet (with status 200,
// as net/http does, so that is the status noted).
func (r *responseRecorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	// Through a ResponseController, so that a writer that itself wraps one is flushed too;
	// http.Flusher has no way to report that the writer cannot flush.
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Hijack hands the connection to the handler, as for a WebSocket upgrade. What the handler
// writes on it is not seen here; the upgrade it answers is noted as 101 Switching Protocols,
// and panic recovery, seeing a status, does not try to answer on the connection again.
func (r *responseRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil && r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

// Status is the response's status: 200 when the handler wrote nothing at all.
func (r *responseRecorder) Status() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Unwrap lets http.ResponseController reach the underlying writer (deadlines, full duplex).
func (r *responseRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

var (
	_ http.Flusher  = (*responseRecorder)(nil)
	_ http.Hijacker = (*responseRecorder)(nil)
)
