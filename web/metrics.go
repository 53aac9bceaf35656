package web

import (
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/storegraph/storegraph/graph"
	"github.com/storegraph/storegraph/storage"
)

// maxOperationLabels bounds the distinct operation names the metrics keep, and
// maxOperationBytes their length: clients choose the names, and every label value is a time
// series held in memory for good, and written out by every scrape.
const (
	maxOperationLabels = 200
	maxOperationBytes  = 100
)

// Label values for requests without a usable operation name. Parentheses cannot occur in a
// GraphQL name, so these never collide with one.
const (
	anonymousOperation = "(anonymous)" // no name, or the request failed before it was read
	otherOperation     = "(other)"     // a name beyond maxOperationLabels, or too long
)

// metrics are what /metrics serves: GraphQL requests by operation and outcome, their
// latency, errors by code, the database pool, and the Go runtime and process.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	errors   *prometheus.CounterVec

	mu         sync.Mutex
	operations map[string]bool
}

func newMetrics(db *storage.DB) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storegraph_graphql_requests_total",
			Help: `GraphQL requests by operation name and outcome: "ok" when the response has no errors, "error" otherwise.`,
		}, []string{"operation", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "storegraph_graphql_request_duration_seconds",
			Help:    "Time from receiving a GraphQL request to having written its response, by operation name.",
			Buckets: prometheus.DefBuckets,
		}, []string{"operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storegraph_graphql_errors_total",
			Help: "Errors in GraphQL responses, by extensions.code.",
		}, []string{"code"}),
		operations: map[string]bool{},
	}
	m.registry.MustRegister(
		m.requests, m.latency, m.errors,
		collectors.NewDBStatsCollector(db.Pool(), string(db.Dialect())),
		// Besides the defaults, the heap the last collection found live: unlike the heap in
		// use, it holds no garbage allocated since, so it is what the process needs.
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// observe counts one GraphQL request from what it recorded and how it was answered.
func (m *metrics) observe(info *graph.RequestInfo, status int, elapsed time.Duration) {
	op := m.operationLabel(info.Operation)
	codes := info.ErrorCodes()
	outcome := "ok"
	if len(codes) > 0 || status >= http.StatusBadRequest {
		outcome = "error"
	}
	m.requests.WithLabelValues(op, outcome).Inc()
	m.latency.WithLabelValues(op).Observe(elapsed.Seconds())
	for _, code := range codes {
		m.errors.WithLabelValues(code).Inc()
	}
}

func (m *metrics) operationLabel(name string) string {
	if name == "" {
		return anonymousOperation
	}
	if len(name) > maxOperationBytes {
		return otherOperation
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.operations[name] {
		if len(m.operations) >= maxOperationLabels {
			return otherOperation
		}
		m.operations[name] = true
	}
	return name
}

// truncateOperation cuts an operation name for the access log at maxOperationBytes, marking
// the cut with "…". GraphQL names are ASCII, so the cut falls between characters.
func truncateOperation(name string) string {
	if len(name) <= maxOperationBytes {
		return name
	}
	return name[:maxOperationBytes] + "…"
}
