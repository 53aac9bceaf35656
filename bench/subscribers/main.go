// Command subscribers is bench/run's client of GraphQL subscriptions: it opens -conns
// WebSocket connections (graphql-transport-ws) of -subs subscriptions each to one document
// (or, with -sse, as many SSE streams of one),
// makes sure every one of them is live, optionally writes items at a steady pace while they
// listen, and prints one JSON object: what arrived, how late, and what went missing or came
// twice.
//
//	go run ./bench/subscribers -url http://127.0.0.1:8080/graphql -token T -conns 100 -subs 10 \
//	  -query 'subscription($s: ID!) { itemEvents(storeId: $s) { itemId at } }' -variables '{"s":"gid://storegraph/Store/1"}' \
//	  -probe-store gid://storegraph/Store/1 -write-store gid://storegraph/Store/1 -rate 50 -duration 10s
//
// The document's one root field must select itemId and at. Events are told apart by item:
// the writes create items, so each item's event must reach each subscription exactly once.
//
// Live: a subscription starts from the present, once the server has handled its subscribe
// message, and the protocol does not say when that is. So the tool creates a probe item in
// -probe-store (which the document must see) and repeats until every subscription has had
// one; probes are left out of the counts.
//
// Without -write-store, the events are someone else's (bench/run's wrk): the tool listens for
// -duration, or until SIGTERM/SIGINT when that is 0, then until no event has come for -quiet,
// and counts the events of the items created after the last probe. With it, it creates
// -rate items a second in that store for -warmup and then -duration, noting when it sent each
// and when the answer came, then waits until every subscription has every measured item (at
// most -drain): latency is each event's receipt time less its write's send time (and less its
// answer's time; and less the event's own at, the database clock's time of the change,
// meaningful on one host).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

const protocol = "graphql-transport-ws"

type config struct {
	url, token, query string
	variables         json.RawMessage
	conns, subs       int
	probeStore        string
	writeStore        string
	rate              float64
	warmup, duration  time.Duration
	drain, quiet      time.Duration
	ready             string
	// setupTimeout bounds connecting and probing; writeTimeout each write.
	setupTimeout, writeTimeout time.Duration
	dialConcurrency            int
	sse                        bool
}

func main() {
	var c config
	var vars string
	flag.StringVar(&c.url, "url", "", "the server's GraphQL endpoint, http://host:port/graphql")
	flag.StringVar(&c.token, "token", "", "access token: sent in connection_init and with the writes")
	flag.IntVar(&c.conns, "conns", 1, "connections")
	flag.IntVar(&c.subs, "subs", 1, "subscriptions per connection (SSE: 1)")
	flag.BoolVar(&c.sse, "sse", false, "server-sent events (graphql-sse, distinct connections mode) instead of WebSockets")
	flag.StringVar(&c.query, "query", "", "the subscription document (its root field selects itemId and at)")
	flag.StringVar(&vars, "variables", "{}", "the document's variables, a JSON object")
	flag.StringVar(&c.probeStore, "probe-store", "", "global ID of a store the document sees, for the probes (none: no probe)")
	flag.StringVar(&c.writeStore, "write-store", "", "global ID of the store to create items in (none: no writes)")
	flag.Float64Var(&c.rate, "rate", 50, "items created per second")
	flag.DurationVar(&c.warmup, "warmup", 0, "writing before the measured writes")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "measured writing, or listening without writes (0: until SIGTERM)")
	flag.DurationVar(&c.drain, "drain", 30*time.Second, "the longest wait for the last events at the end")
	flag.DurationVar(&c.quiet, "quiet", 2*time.Second, "without writes, the end waits until no event has come for this long")
	flag.StringVar(&c.ready, "ready", "", "a file to create once every subscription is live")
	flag.Parse()
	c.variables = json.RawMessage(vars)
	c.setupTimeout, c.dialConcurrency, c.writeTimeout = time.Minute, 32, 10*time.Second
	if c.url == "" || c.query == "" || c.conns < 1 || c.subs < 1 || c.sse && c.subs != 1 || !json.Valid(c.variables) || c.rate <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	r, err := run(ctx, c)
	if err != nil {
		r.Fatal = err.Error()
	}
	out, _ := json.MarshalIndent(r, "", "  ")
	fmt.Println(string(out))
	if err != nil {
		os.Exit(1)
	}
}

// subscription is what one subscription received: per item (row id), when it first came.
type subscription struct {
	id       string
	received map[int64]receipt
	dups     int
	probed   bool
	ended    string // why the server ended it (error or complete), if it did
	checked  int    // how many of the measured writes, in order, it is known to have
}

type receipt struct{ at, recv int64 } // Unix nanoseconds: the event's at, the receipt

// conn is one connection: a WebSocket, or an SSE stream (see sse.go). Its reader goroutine
// records into subs under mu.
type conn struct {
	ws      *websocket.Conn
	stream  *sseStream
	mu      sync.Mutex
	subs    map[string]*subscription
	last    int64 // the latest receipt, Unix nanoseconds
	pingOut string
	stats   *counters
	closing atomic.Bool
}

type counters struct {
	messages, pongs, serverPings, errors atomic.Int64
	mu                                   sync.Mutex
	firstErrors                          []string
}

func (s *counters) fail(format string, args ...any) {
	s.errors.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.firstErrors) < 5 {
		s.firstErrors = append(s.firstErrors, fmt.Sprintf(format, args...))
	}
}

type message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func run(ctx context.Context, c config) (report, error) {
	stats := &counters{}
	failed := func(err error) (report, error) {
		stats.mu.Lock()
		defer stats.mu.Unlock()
		return report{Errors: stats.errors.Load(), FirstErrors: stats.firstErrors}, err
	}
	conns, err := connect(ctx, c, stats)
	defer func() {
		for _, cn := range conns {
			cn.close(c.subs)
		}
	}()
	if err != nil {
		return failed(err)
	}
	w := &writer{c: c, client: &http.Client{Timeout: c.writeTimeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	start := time.Now()
	if err := w.probe(ctx, conns, stats); err != nil {
		return failed(err)
	}
	readyIn := time.Since(start)
	if c.ready != "" {
		if err := os.WriteFile(c.ready, []byte("ready\n"), 0o644); err != nil {
			return failed(fmt.Errorf("ready file: %w", err))
		}
	}
	var drained time.Duration
	if c.writeStore != "" {
		w.write(ctx)
		drained = waitFor(c.drain, func() bool { return w.allReceived(conns) })
	} else {
		if c.duration > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(c.duration):
			}
		} else {
			<-ctx.Done()
		}
		stopped := time.Now()
		waitFor(c.drain, func() bool { return quietFor(conns, c.quiet) })
		drained = max(time.Unix(0, latest(conns)).Sub(stopped), 0)
	}
	r := summarise(c, conns, w, stats)
	r.ReadyMS, r.DrainMS = ms(readyIn), ms(drained)
	return r, nil
}

// connect opens the connections, each initialised and acknowledged, its subscriptions sent
// and a ping answered.
func connect(ctx context.Context, c config, stats *counters) ([]*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.setupTimeout)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(c.url, "http")
	conns := make([]*conn, c.conns)
	errs := make([]error, c.conns)
	sem := make(chan struct{}, c.dialConcurrency)
	var wg sync.WaitGroup
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if c.sse {
				conns[i], errs[i] = openSSE(ctx, c, i, stats)
			} else {
				conns[i], errs[i] = open(ctx, c, wsURL, i, stats)
			}
		})
	}
	wg.Wait()
	conns = slices.DeleteFunc(conns, func(cn *conn) bool { return cn == nil })
	if err := errors.Join(errs...); err != nil {
		return conns, err
	}
	// The answer to each connection's ping comes after its subscribe messages were read (an
	// SSE stream's first comment, once the server has its request).
	ok := waitFor(c.setupTimeout, func() bool { return stats.pongs.Load() >= int64(len(conns)) }) < c.setupTimeout
	if !ok {
		return conns, fmt.Errorf("%d of %d connections answered the ping", stats.pongs.Load(), len(conns))
	}
	return conns, nil
}

func open(ctx context.Context, c config, wsURL string, n int, stats *counters) (*conn, error) {
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{protocol}})
	if err != nil {
		return nil, fmt.Errorf("connection %d: %w", n, err)
	}
	cn := &conn{ws: ws, subs: map[string]*subscription{}, stats: stats, pingOut: fmt.Sprintf(`{"conn":%d}`, n)}
	if ws.Subprotocol() != protocol {
		cn.close(0)
		return nil, fmt.Errorf("connection %d: subprotocol %q, want %q", n, ws.Subprotocol(), protocol)
	}
	ws.SetReadLimit(1 << 20)
	init := json.RawMessage(`{}`)
	if c.token != "" {
		init, _ = json.Marshal(map[string]string{"Authorization": "Bearer " + c.token})
	}
	if err := cn.send(ctx, message{Type: "connection_init", Payload: init}); err != nil {
		return nil, fmt.Errorf("connection %d: %w", n, err)
	}
	for acked := false; !acked; {
		m, err := cn.read(ctx)
		if err != nil {
			cn.close(0)
			return nil, fmt.Errorf("connection %d before connection_ack: %w", n, err)
		}
		switch m.Type {
		case "connection_ack":
			acked = true
		case "ping":
			err = cn.send(ctx, message{Type: "pong", Payload: m.Payload})
		default:
			err = fmt.Errorf("%q before connection_ack", m.Type)
		}
		if err != nil {
			cn.close(0)
			return nil, fmt.Errorf("connection %d: %w", n, err)
		}
	}
	payload, _ := json.Marshal(map[string]any{"query": c.query, "variables": c.variables})
	for i := range c.subs {
		s := &subscription{id: strconv.Itoa(i + 1), received: map[int64]receipt{}}
		cn.subs[s.id] = s
	}
	go cn.listen()
	for i := range c.subs {
		if err := cn.send(ctx, message{ID: strconv.Itoa(i + 1), Type: "subscribe", Payload: payload}); err != nil {
			return cn, fmt.Errorf("connection %d: %w", n, err)
		}
	}
	if err := cn.send(ctx, message{Type: "ping", Payload: json.RawMessage(cn.pingOut)}); err != nil {
		return cn, fmt.Errorf("connection %d: %w", n, err)
	}
	return cn, nil
}

func (cn *conn) send(ctx context.Context, m message) error {
	b, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return cn.ws.Write(ctx, websocket.MessageText, b)
}

func (cn *conn) read(ctx context.Context) (message, error) {
	_, b, err := cn.ws.Read(ctx)
	if err != nil {
		return message{}, err
	}
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("not a message: %q", b)
	}
	return m, nil
}

// listen handles the server's messages until the connection ends.
func (cn *conn) listen() {
	ctx := context.Background()
	for {
		_, b, err := cn.ws.Read(ctx)
		now := time.Now().UnixNano()
		if err != nil {
			if !cn.closing.Load() {
				cn.stats.fail("connection ended: %v", err)
			}
			return
		}
		var m message
		if err := json.Unmarshal(b, &m); err != nil {
			cn.stats.messages.Add(1)
			cn.stats.fail("not a message: %.200q", b)
			continue
		}
		cn.handle(m, now)
	}
}

// handle handles one message of the server's, received at now.
func (cn *conn) handle(m message, now int64) {
	cn.stats.messages.Add(1)
	switch m.Type {
	case "next":
		cn.next(m, now)
	case "error", "complete":
		cn.mu.Lock()
		s := cn.subs[m.ID]
		if s != nil && s.ended == "" {
			s.ended = m.Type
		}
		cn.mu.Unlock()
		if !cn.closing.Load() || m.Type == "error" {
			cn.stats.fail("%s for subscription %q: %.300s", m.Type, m.ID, m.Payload)
		}
	case "ping":
		cn.stats.serverPings.Add(1)
		if err := cn.send(context.Background(), message{Type: "pong", Payload: m.Payload}); err != nil && !cn.closing.Load() {
			cn.stats.fail("pong: %v", err)
		}
	case "pong":
		if string(m.Payload) != cn.pingOut {
			cn.stats.fail("pong with payload %s, sent %s", m.Payload, cn.pingOut)
		}
		cn.stats.pongs.Add(1)
	default:
		cn.stats.fail("unexpected message %.200q", m.Type)
	}
}

func (cn *conn) next(m message, now int64) {
	var p struct {
		Data   map[string]struct{ ItemID, At string }
		Errors json.RawMessage
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 || len(p.Data) != 1 {
		cn.stats.fail("next for %q: %.300s", m.ID, m.Payload)
		return
	}
	var row int64
	var at time.Time
	var err error
	for _, e := range p.Data {
		row, err = rowID(e.ItemID)
		if err == nil {
			at, err = time.Parse(time.RFC3339Nano, e.At)
		}
	}
	if err != nil {
		cn.stats.fail("next for %q: %v", m.ID, err)
		return
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	cn.last = now
	s := cn.subs[m.ID]
	switch {
	case s == nil:
		cn.stats.fail("next for unknown subscription %q", m.ID)
	case s.ended != "":
		cn.stats.fail("next for subscription %q after its %s", m.ID, s.ended)
	default:
		if _, dup := s.received[row]; dup {
			s.dups++
			return
		}
		s.received[row] = receipt{at: at.UnixNano(), recv: now}
	}
}

// close completes the subscriptions (when there are some) and closes the connection
// normally.
func (cn *conn) close(subs int) {
	cn.closing.Store(true)
	if cn.stream != nil {
		cn.stream.close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range subs {
		_ = cn.send(ctx, message{ID: strconv.Itoa(i + 1), Type: "complete"})
	}
	_ = cn.ws.Close(websocket.StatusNormalClosure, "")
}

// rowID is the row id of a global ID, gid://storegraph/Item/<row>.
func rowID(gid string) (int64, error) {
	i := strings.LastIndexByte(gid, '/')
	n, err := strconv.ParseInt(gid[i+1:], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("global ID %q: %w", gid, err)
	}
	return n, nil
}

// waitFor polls done until it holds or limit passes, and says how long that took.
func waitFor(limit time.Duration, done func() bool) time.Duration {
	start := time.Now()
	for !done() && time.Since(start) < limit {
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func quietFor(conns []*conn, d time.Duration) bool {
	return latest(conns) <= time.Now().Add(-d).UnixNano()
}

// latest is when the last event arrived, in Unix nanoseconds.
func latest(conns []*conn) int64 {
	var last int64
	for _, cn := range conns {
		cn.mu.Lock()
		last = max(last, cn.last)
		cn.mu.Unlock()
	}
	return last
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
