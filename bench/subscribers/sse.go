package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// sseStream is a subscription over server-sent events: one POST per stream, its response
// read as graphql-sse's distinct connections mode writes it.
type sseStream struct {
	body   io.ReadCloser
	cancel context.CancelFunc
}

func (s *sseStream) close() {
	s.cancel()
	_ = s.body.Close()
}

// sseClient opens each stream on a connection of its own, as graphql-sse's clients do.
var sseClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, ResponseHeaderTimeout: time.Minute}}

// openSSE opens stream n, subscription "1" of its connection.
func openSSE(ctx context.Context, c config, n int, stats *counters) (*conn, error) {
	body, _ := json.Marshal(map[string]any{"query": c.query, "variables": c.variables})
	// The stream lasts beyond ctx, which bounds the setup: until it is closed.
	streamCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	req, err := http.NewRequestWithContext(streamCtx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := sseClient.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("stream %d: %w", n, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("stream %d: %s %s", n, resp.Status, b)
	}
	cn := &conn{stream: &sseStream{body: resp.Body, cancel: cancel}, stats: stats,
		subs: map[string]*subscription{"1": {id: "1", received: map[int64]receipt{}}}}
	go cn.listenSSE()
	return cn, nil
}

// listenSSE handles the stream's events until it ends: each next or complete event as the
// message of subscription "1" it would be over a WebSocket. The first comment is the answer
// connect waits for, the later ones keep-alives.
func (cn *conn) listenSSE() {
	r := bufio.NewReader(cn.stream.body)
	var event, data string
	comments := 0
	for {
		line, err := r.ReadString('\n')
		now := time.Now().UnixNano()
		if err != nil {
			if !cn.closing.Load() {
				cn.stats.fail("stream ended: %v", err)
			}
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && event != "":
			cn.handle(message{ID: "1", Type: event, Payload: json.RawMessage(data)}, now)
			event, data = "", ""
		case strings.HasPrefix(line, ":"):
			if comments++; comments == 1 {
				cn.stats.pongs.Add(1)
			} else {
				cn.stats.serverPings.Add(1)
			}
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}
