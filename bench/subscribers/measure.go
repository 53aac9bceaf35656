package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

const createItem = `mutation($n: String!, $s: ID!) { createItem(input: {name: $n, price: 9.99, storeId: $s}) { id } }`

// writer creates the probes and the paced writes, over HTTP, signed in with the token.
type writer struct {
	c      config
	client *http.Client

	mu     sync.Mutex
	probes []int64
	writes []written
	rows   []int64 // the measured writes' items, once they are all answered
}

type written struct {
	row         int64 // 0 when it failed
	sent, acked int64 // Unix nanoseconds
	measured    bool
	err         string
}

func (w *writer) create(ctx context.Context, store, name string) (int64, error) {
	body, _ := json.Marshal(map[string]any{"query": createItem, "variables": map[string]string{"n": name, "s": store}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.c.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if w.c.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.c.token)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Data   struct{ CreateItem struct{ ID string } }
		Errors json.RawMessage
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || len(out.Errors) > 0 {
		return 0, fmt.Errorf("createItem: status %d, errors %.300s (%v)", resp.StatusCode, out.Errors, err)
	}
	return rowID(out.Data.CreateItem.ID)
}

// probe creates probe items until every subscription has received one (see the package
// comment).
func (w *writer) probe(ctx context.Context, conns []*conn, stats *counters) error {
	if w.c.probeStore == "" {
		return nil
	}
	deadline := time.Now().Add(w.c.setupTimeout)
	for n := 1; ; n++ {
		if stats.errors.Load() > 0 {
			return fmt.Errorf("%d errors before every subscription was live", stats.errors.Load())
		}
		row, err := w.create(ctx, w.c.probeStore, fmt.Sprintf("bench probe %d", n))
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		w.probes = append(w.probes, row)
		if waitFor(2*time.Second, func() bool { return probed(conns, w.probes) }) < 2*time.Second {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not every subscription live after %d probes", n)
		}
	}
}

func probed(conns []*conn, probes []int64) bool {
	all := true
	for _, cn := range conns {
		cn.mu.Lock()
		for _, s := range cn.subs {
			for _, p := range probes {
				if _, ok := s.received[p]; ok {
					s.probed = true
				}
			}
			all = all && s.probed
		}
		cn.mu.Unlock()
	}
	return all
}

// write creates rate items a second for warmup + duration (or until ctx ends), each in a
// goroutine of its own, so that a slow answer delays no later write, and returns once
// every write is answered.
func (w *writer) write(ctx context.Context) {
	interval := time.Duration(float64(time.Second) / w.c.rate)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; time.Duration(i)*interval < w.c.warmup+w.c.duration; i++ {
		due := start.Add(time.Duration(i) * interval)
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(due)):
		}
		if ctx.Err() != nil {
			break
		}
		measured := due.Sub(start) >= w.c.warmup
		wg.Go(func() {
			wr := written{sent: time.Now().UnixNano(), measured: measured}
			row, err := w.create(context.WithoutCancel(ctx), w.c.writeStore, fmt.Sprintf("bench subscribed write %d", i))
			wr.row, wr.acked = row, time.Now().UnixNano()
			if err != nil {
				wr.err = err.Error()
			}
			w.mu.Lock()
			w.writes = append(w.writes, wr)
			w.mu.Unlock()
		})
	}
	wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, wr := range w.writes {
		if wr.measured && wr.err == "" {
			w.rows = append(w.rows, wr.row)
		}
	}
	slices.Sort(w.rows) // in the order of their events, mostly: checking in order is cheap
}

// allReceived says whether every subscription the server has not ended has every measured
// write's item.
func (w *writer) allReceived(conns []*conn) bool {
	all := true
	for _, cn := range conns {
		cn.mu.Lock()
		for _, s := range cn.subs {
			for s.ended == "" && s.checked < len(w.rows) {
				if _, ok := s.received[w.rows[s.checked]]; !ok {
					all = false
					break
				}
				s.checked++
			}
		}
		cn.mu.Unlock()
	}
	return all
}

type report struct {
	Connections   int                    `json:"connections"`
	Subscriptions int                    `json:"subscriptions"`
	Ended         int                    `json:"ended_by_server"` // subscriptions the server sent error or complete for
	ReadyMS       float64                `json:"ready_ms"`        // from connected to every subscription live
	Probes        int                    `json:"probes"`
	DrainMS       float64                `json:"drain_ms"` // with writes: from the last answer until every subscription had every item; without: from the end of listening to the last event
	Messages      int64                  `json:"messages"` // every message the server sent
	Pongs         int64                  `json:"pongs"`    // answers to the tool's pings, one per connection
	ServerPings   int64                  `json:"server_pings"`
	Errors        int64                  `json:"errors"`
	FirstErrors   []string               `json:"first_errors,omitempty"`
	Writes        *writes                `json:"writes,omitempty"`
	Events        events                 `json:"events"`
	Latency       map[string]percentiles `json:"latency_ms"`
	Fatal         string                 `json:"fatal,omitempty"`
}

type writes struct {
	Sent     int         `json:"sent"`
	Acked    int         `json:"acked"`
	Failed   int         `json:"failed"`
	Answer   percentiles `json:"answer_ms"`
	FirstErr string      `json:"first_error,omitempty"`
}

// events counts the events of the measured items (with writes) or of the items created
// after the last probe (without: items have increasing ids, and bench/run writes nothing
// while the tool probes).
type events struct {
	Received        int     `json:"received"`         // over all subscriptions, each item once
	Duplicates      int     `json:"duplicates"`       // an item's event again on a subscription
	Missing         int     `json:"missing"`          // with writes: a measured item's event that a subscription lacks
	Unexpected      int     `json:"unexpected"`       // with writes: events of items the tool has no answer for
	UnexpectedItems int     `json:"unexpected_items"` // their items: no more than the writes that failed waiting for one
	Earlier         int     `json:"earlier"`          // without writes: events of items older than the last probe, left out
	Distinct        int     `json:"distinct"`         // items seen by any subscription
	MinPerSub       int     `json:"min_per_subscription"`
	MaxPerSub       int     `json:"max_per_subscription"`
	WindowS         float64 `json:"window_s"` // from the first receipt to the last
	PerSecond       float64 `json:"per_s"`    // received / window
}

type percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func summarise(c config, conns []*conn, w *writer, stats *counters) report {
	r := report{Connections: len(conns), Probes: len(w.probes), Messages: stats.messages.Load(), Pongs: stats.pongs.Load(),
		ServerPings: stats.serverPings.Load(), Latency: map[string]percentiles{}}
	probes := map[int64]bool{}
	var lastProbe int64
	for _, p := range w.probes {
		probes[p] = true
		lastProbe = max(lastProbe, p)
	}
	known := map[int64]*written{} // the tool's writes, by item
	measured := 0
	if c.writeStore != "" {
		r.Writes = &writes{}
		var answers []int64
		for i := range w.writes {
			wr := &w.writes[i]
			if wr.err == "" {
				known[wr.row] = wr
			}
			if !wr.measured {
				continue
			}
			r.Writes.Sent++
			if wr.err != "" {
				r.Writes.Failed++
				r.Writes.FirstErr = cmp.Or(r.Writes.FirstErr, wr.err)
				continue
			}
			r.Writes.Acked++
			answers = append(answers, wr.acked-wr.sent)
		}
		measured = r.Writes.Acked
		r.Writes.Answer = percentilesOf(answers)
	}
	var fromSent, fromAck, fromAt []int64
	var first, last int64
	distinct, unexpected := map[int64]bool{}, map[int64]bool{}
	r.Events.MinPerSub = -1
	for _, cn := range conns {
		cn.mu.Lock()
		for _, s := range cn.subs {
			r.Subscriptions++
			if s.ended != "" {
				r.Ended++
			}
			r.Events.Duplicates += s.dups
			n := 0
			for row, rc := range s.received {
				if probes[row] {
					continue
				}
				wr := known[row]
				if c.writeStore == "" && row < lastProbe {
					r.Events.Earlier++
					continue
				}
				if c.writeStore != "" {
					if wr == nil {
						r.Events.Unexpected++
						unexpected[row] = true
						continue
					}
					if !wr.measured {
						continue
					}
					fromSent = append(fromSent, rc.recv-wr.sent)
					fromAck = append(fromAck, rc.recv-wr.acked)
				}
				n++
				distinct[row] = true
				fromAt = append(fromAt, rc.recv-rc.at)
				if first == 0 || rc.recv < first {
					first = rc.recv
				}
				last = max(last, rc.recv)
			}
			r.Events.Received += n
			r.Events.Missing += measured - n
			if r.Events.MinPerSub < 0 || n < r.Events.MinPerSub {
				r.Events.MinPerSub = n
			}
			r.Events.MaxPerSub = max(r.Events.MaxPerSub, n)
		}
		cn.mu.Unlock()
	}
	if c.writeStore == "" {
		r.Events.Missing = 0 // not known here: bench/run compares with the database
	}
	r.Events.MinPerSub = max(r.Events.MinPerSub, 0)
	r.Events.Distinct, r.Events.UnexpectedItems = len(distinct), len(unexpected)
	if last > first {
		r.Events.WindowS = float64(last-first) / 1e9
		r.Events.PerSecond = float64(r.Events.Received) / r.Events.WindowS
	}
	if c.writeStore != "" {
		r.Latency["from_sent"] = percentilesOf(fromSent)
		r.Latency["from_ack"] = percentilesOf(fromAck)
	}
	r.Latency["from_at"] = percentilesOf(fromAt)
	r.Errors = stats.errors.Load()
	stats.mu.Lock()
	r.FirstErrors = stats.firstErrors
	stats.mu.Unlock()
	return r
}

// percentilesOf are the nearest-rank percentiles of durations in nanoseconds, in ms.
func percentilesOf(d []int64) percentiles {
	if len(d) == 0 {
		return percentiles{}
	}
	slices.Sort(d)
	at := func(p int) float64 { return float64(d[(len(d)*p+99)/100-1]) / 1e6 }
	return percentiles{N: len(d), P50: at(50), P90: at(90), P99: at(99), Max: float64(d[len(d)-1]) / 1e6}
}
