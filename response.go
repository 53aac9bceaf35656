package main

import "net/http"

// responseRecorder notes the status of a response as it is written, for the access log and
// for panic recovery (which must not answer twice).
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

// Status is the response's status: 200 when the handler wrote nothing at all.
func (r *responseRecorder) Status() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (r *responseRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
