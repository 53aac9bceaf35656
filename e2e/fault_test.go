package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	faultWriters        = 8
	faultRequestTimeout = 2 * time.Second
)

// faultAttempt is one write the load made, as the client saw it.
type faultAttempt struct {
	start, end time.Time
	id         string   // the acknowledged item's id; "" if not acknowledged
	codes      []string // error codes of the answer
	problem    string   // no answer, or not a GraphQL one
}

// faultProbe is one /readyz answer.
type faultProbe struct {
	at     time.Time
	status int // 0: no answer
}

// unavailableBeforeExecution reports whether r is the HTTP 503 UNAVAILABLE of a request the
// server could not start to execute: a signed-in request whose session it could not check
// (the session cache holds an answer for a second; after that, the database is asked).
func unavailableBeforeExecution(r *rawResponse) bool {
	return r.Status == http.StatusServiceUnavailable && slices.Equal(r.Codes(), []string{"UNAVAILABLE"}) && abuseNoData(r.Data)
}

func TestPostgresOutageIsUnavailableThenRecoversWithoutRestart(t *testing.T) {
	pg := startPGCluster(t)
	s := startServerWith(t, "postgres", pg.URL, serverOptions{env: []string{"REQUEST_TIMEOUT=" + faultRequestTimeout.String()}, noExitCheck: true})
	store := createStore(t, s, "Faults")

	var (
		mu       sync.Mutex
		attempts []faultAttempt
		probes   []faultProbe
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for w := range faultWriters {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				a := faultAttempt{start: time.Now()}
				r, err := s.GraphQL(context.Background(), `mutation($n: String!, $s: ID!) { createItem(input: {name: $n, price: 1, storeId: $s}) { id } }`,
					map[string]any{"n": fmt.Sprintf("w%d-%d", w, n), "s": store.ID})
				a.end = time.Now()
				switch {
				case err != nil:
					a.problem = err.Error()
				case r.Status != http.StatusOK && !unavailableBeforeExecution(r):
					a.problem = fmt.Sprintf("status %d: %s", r.Status, r.Raw)
				default:
					a.codes = r.Codes()
					var out struct{ CreateItem *struct{ ID string } }
					if len(a.codes) == 0 && json.Unmarshal(r.Data, &out) == nil && out.CreateItem != nil {
						a.id = out.CreateItem.ID
					}
				}
				mu.Lock()
				attempts = append(attempts, a)
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			status, _ := s.Get("/readyz")
			mu.Lock()
			probes = append(probes, faultProbe{time.Now(), status})
			mu.Unlock()
		}
	})

	time.Sleep(2 * time.Second)
	down := time.Now()
	pg.Stop(t)
	stopped := time.Now()
	time.Sleep(4 * time.Second)
	restart := time.Now()
	pg.Start(t)
	up := time.Now()
	recovered := eventually(20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.ContainsFunc(attempts, func(a faultAttempt) bool { return a.id != "" && a.start.After(up) })
	})
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	if !recovered {
		t.Fatal("no write succeeded within 20s of Postgres being back")
	}

	// Every answer came in time and was a success or UNAVAILABLE; the failures all fall
	// between stopping Postgres and the first write acknowledged after its restart.
	firstAckAfter := time.Time{}
	for _, a := range attempts {
		if a.id != "" && a.start.After(up) && (firstAckAfter.IsZero() || a.end.Before(firstAckAfter)) {
			firstAckAfter = a.end
		}
	}
	var (
		acked                []string
		unavailable          int
		firstFail, lastFail  time.Time
		ackedBefore, ackedUp int
	)
	for _, a := range attempts {
		if took := a.end.Sub(a.start); took > faultRequestTimeout+time.Second {
			t.Errorf("a write took %v, beyond the %v request timeout", took, faultRequestTimeout)
		}
		switch {
		case a.problem != "":
			t.Errorf("a write got no GraphQL answer: %s", a.problem)
		case a.id != "":
			acked = append(acked, a.id)
			if a.end.Before(down) {
				ackedBefore++
			}
			if a.start.After(up) {
				ackedUp++
			}
		case !slices.Equal(a.codes, []string{"UNAVAILABLE"}):
			t.Errorf("a write failed with %v, want only UNAVAILABLE", a.codes)
		default:
			unavailable++
			if a.end.Before(down) || a.start.After(firstAckAfter) {
				t.Errorf("UNAVAILABLE outside the outage: request from %v to %v (Postgres stopped at %v, first write acknowledged after the restart at %v)",
					a.start.Sub(down), a.end.Sub(down), time.Duration(0), firstAckAfter.Sub(down))
			}
			if firstFail.IsZero() || a.end.Before(firstFail) {
				firstFail = a.end
			}
			if a.end.After(lastFail) {
				lastFail = a.end
			}
		}
	}
	if unavailable == 0 || ackedBefore == 0 || ackedUp == 0 {
		t.Fatalf("acknowledged %d writes before the outage and %d after it, %d UNAVAILABLE: the outage was not exercised", ackedBefore, ackedUp, unavailable)
	}

	// /readyz went 200, then 503 while Postgres was down, then 200 again.
	var seen []int
	for _, p := range probes {
		if len(seen) == 0 || seen[len(seen)-1] != p.status {
			seen = append(seen, p.status)
		}
	}
	if !slices.Equal(seen, []int{200, 503, 200}) {
		t.Errorf("/readyz answered %v in turn, want [200 503 200]", seen)
	}

	// The same process served throughout: it never exited, its pid is alive, and it
	// started serving once.
	if s.Exited() || syscall.Kill(s.Pid, 0) != nil || strings.Count(s.Stderr(), `"msg":"serving"`) != 1 {
		t.Fatalf("the server (pid %d) restarted or exited (%v):\n%s", s.Pid, s.waitErr, s.Stderr())
	}

	// Every acknowledged write is in the database.
	db, err := sql.Open("pgx", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := map[string]bool{} // by global ID, as the writers were told them
	rows, err := db.Query(`SELECT id FROM items`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		stored[globalID(itemType, id)] = true
	}
	rows.Close()
	lost := 0
	for _, id := range acked {
		if !stored[id] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes are not in the database", lost, len(acked))
	}
	t.Logf("writes: %d acknowledged (%d before the outage, %d after the restart), %d UNAVAILABLE, %d lost; "+
		"Postgres stopped in %v and restarted in %v; UNAVAILABLE from +%v to +%v after the stop; "+
		"first acknowledged write %v after Postgres was up again; %d rows stored",
		len(acked), ackedBefore, ackedUp, unavailable, lost,
		stopped.Sub(down).Round(time.Millisecond), up.Sub(restart).Round(time.Millisecond),
		firstFail.Sub(down).Round(time.Millisecond), lastFail.Sub(down).Round(time.Millisecond),
		firstAckAfter.Sub(up).Round(time.Millisecond), len(stored))
}
