package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// metrics are the service's Prometheus metrics, in a registry the server owns: two servers
// in one process (as in the tests) never share or collide on series.
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec   // method, route, status
	latency     *prometheus.HistogramVec // method, route
	redemptions *prometheus.CounterVec   // result
	batchSize   prometheus.Histogram
	commitTime  prometheus.Histogram
	restarts    *prometheus.CounterVec // result
	walPause    prometheus.Histogram
	erased      *prometheus.CounterVec // by: office, retention
	shortened   prometheus.Counter     // audit addresses shortened by the retention job
	retention   prometheus.Histogram   // one retention batch's write
	retentionAt prometheus.Gauge       // the end of the last retention run, unix seconds
	// walletDeliveries counts the outbox's deliveries by kind and result; walletExpiry is
	// each wallet certificate's expiry (unix seconds).
	walletDeliveries *prometheus.CounterVec
	walletExpiry     *prometheus.GaugeVec
	routes           *routeMatcher // set by app(), once every route is registered
	series           sync.Map      // seriesKey -> *requestSeries, so a request hashes no labels
}

// seriesKey is one request series: the labels of citycard_http_requests_total.
type seriesKey struct {
	method, route string
	status        int
}

// requestSeries are a series' counter and latency histogram, resolved once.
type requestSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// latencyBuckets reach down to the till check's sub-millisecond answers and up to the
// write timeout.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// newMetrics registers every metric of a server over db, the Go runtime's and the process's.
// The gauges (WAL size, queue depth) and the cache counters are read from db at scrape time,
// so they cost nothing between scrapes.
func newMetrics(db *storage.DB) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citycard_http_requests_total",
			Help: "HTTP requests answered, by method, route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "citycard_http_request_duration_seconds",
			Help:    "Time from a request's arrival in the app to its answer, by method and route template.",
			Buckets: latencyBuckets,
		}, []string{"method", "route"}),
		redemptions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citycard_redemptions_total",
			Help: "Redemption requests at tills by result: completed, replayed (same Idempotency-Key), or the error code.",
		}, []string{"result"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "citycard_writer_batch_size",
			Help:    "Writes committed together in one group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 8), // 1 … 128 (storage.MaxBatch)
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "citycard_writer_commit_duration_seconds",
			Help:    "Time of one group commit's transaction, from BEGIN to the end of COMMIT (fsync included).",
			Buckets: latencyBuckets,
		}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citycard_wal_restarts_total",
			Help: "Checkpoints that restart the write-ahead log: ok, or busy when readers held it.",
		}, []string{"result"}),
		walPause: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "citycard_wal_restart_pause_seconds",
			Help:    "How long the writer was paused for a checkpoint that restarts the log.",
			Buckets: latencyBuckets,
		}),
		erased: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citycard_personal_data_erased_total",
			Help: "Cards whose holder data was erased, by the office or the retention job (docs/privacy.md).",
		}, []string{"by"}),
		shortened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "citycard_audit_addresses_shortened_total",
			Help: "Client addresses of the audit log shortened by the retention job (IPv4 /24, IPv6 /48).",
		}),
		retention: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "citycard_retention_batch_duration_seconds",
			Help:    "Time of one batch of the retention job's writes (queue and commit included).",
			Buckets: latencyBuckets,
		}),
		retentionAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "citycard_retention_last_run_timestamp_seconds",
			Help: "When this instance last finished a retention run (0: never).",
		}),
	}
	m.walletDeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "citycard_wallet_deliveries_total",
		Help: "Wallet updates attempted (APNs pushes, Google Wallet object updates), by kind and result (delivered, failed: retried later).",
	}, []string{"kind", "result"})
	m.walletExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "citycard_wallet_certificate_expiry_seconds",
		Help: "When each configured wallet certificate expires, unix seconds (alert 30 days before: docs/wallet.md).",
	}, []string{"certificate"})
	m.reg.MustRegister(m.walletDeliveries, m.walletExpiry, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "citycard_wallet_outbox_pending",
		Help: "Wallet updates queued and not yet delivered.",
	}, func() float64 {
		n, _ := db.WalletOutboxPending(context.Background())
		return float64(n)
	}))
	m.reg.MustRegister(m.requests, m.latency, m.redemptions, m.batchSize, m.commitTime, m.restarts, m.walPause,
		m.erased, m.shortened, m.retention, m.retentionAt,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "citycard_writer_queue_depth",
			Help: "Writes waiting for the writer goroutine.",
		}, func() float64 { return float64(db.QueueDepth()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "citycard_wal_size_bytes",
			Help: "Size of the SQLite write-ahead log file.",
		}, func() float64 { return float64(db.WALSize()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "citycard_db_retries_total",
			Help: "Write transactions run again after a serialization failure, a deadlock or a lost unique race (PostgreSQL).",
		}, func() float64 { return float64(db.EngineRetries()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "citycard_db_pool_connections_in_use",
			Help: "Connections of the PostgreSQL pool in use now (0 on SQLite).",
		}, func() float64 { _, inUse, _ := db.PoolStats(); return float64(inUse) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "citycard_db_pool_connections_max",
			Help: "The PostgreSQL pool's size (CITYCARD_PG_MAX_CONNS; 0 on SQLite).",
		}, func() float64 { max, _, _ := db.PoolStats(); return float64(max) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "citycard_db_pool_waits_total",
			Help: "Times a request waited for a free connection of the PostgreSQL pool.",
		}, func() float64 { _, _, waits := db.PoolStats(); return float64(waits) }),
		cacheCollector{db},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Every result a redemption can have is a series from the start, so a rate over it never
	// starts from a missing series.
	for _, r := range []string{"completed", "replayed"} {
		m.redemptions.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "busy"} {
		m.restarts.WithLabelValues(r)
	}
	for _, by := range []string{"office", "retention"} {
		m.erased.WithLabelValues(by)
	}
	return m
}

// BatchCommitted implements storage.Observer.
func (m *metrics) BatchCommitted(writes int, took time.Duration) {
	m.batchSize.Observe(float64(writes))
	m.commitTime.Observe(took.Seconds())
}

// WALRestarted implements storage.Observer.
func (m *metrics) WALRestarted(ok bool, paused time.Duration) {
	if ok {
		m.restarts.WithLabelValues("ok").Inc()
	} else {
		m.restarts.WithLabelValues("busy").Inc()
	}
	m.walPause.Observe(paused.Seconds())
}

// redemption counts one redemption request by its result: err's contract code, else
// completed or replayed.
func (m *metrics) redemption(err error, replayed bool) {
	result := "completed"
	switch {
	case err != nil:
		_, result, _ = classify(err)
	case replayed:
		result = "replayed"
	}
	m.redemptions.WithLabelValues(result).Inc()
}

// cacheCollector reports the read caches' hits and misses, read from the database at scrape
// time (the caches count with atomics on their own path).
type cacheCollector struct{ db *storage.DB }

var (
	cacheHitsDesc = prometheus.NewDesc("citycard_cache_hits_total",
		"Lookups a read cache answered, by cache.", []string{"cache"}, nil)
	cacheMissesDesc = prometheus.NewDesc("citycard_cache_misses_total",
		"Lookups a read cache sent to the database, by cache.", []string{"cache"}, nil)
)

func (cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cacheHitsDesc
	ch <- cacheMissesDesc
}

func (c cacheCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.db.CacheStats() {
		ch <- prometheus.MustNewConstMetric(cacheHitsDesc, prometheus.CounterValue, float64(s.Hits), s.Name)
		ch <- prometheus.MustNewConstMetric(cacheMissesDesc, prometheus.CounterValue, float64(s.Misses), s.Name)
	}
}

// statusText holds the label of every status code, so counting a request allocates nothing.
var statusText = func() (t [600]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

// middleware counts every request the app routes, by method, route template and status, and
// observes its latency. It runs first, so it sees the final status of every request: an error
// returned by a handler or a middleware (a 401, a 429, a panic turned into a 500) is answered
// here by the app's error handler rather than after the chain.
func (m *metrics) middleware(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := c.App().Config().ErrorHandler(c, err); herr != nil {
			c.Status(fiber.StatusInternalServerError)
		}
	}
	key := seriesKey{c.Method(), m.route(c), c.Response().StatusCode()}
	v, ok := m.series.Load(key)
	if !ok {
		label := "other"
		if key.status >= 0 && key.status < len(statusText) {
			label = statusText[key.status]
		}
		v, _ = m.series.LoadOrStore(key, &requestSeries{
			count:   m.requests.WithLabelValues(key.method, key.route, label),
			latency: m.latency.WithLabelValues(key.method, key.route),
		})
	}
	rs := v.(*requestSeries)
	rs.count.Inc()
	rs.latency.Observe(time.Since(start).Seconds())
	return nil
}

// route is the label for the request's route: the template Fiber matched ("/api/v1/cards/:id"),
// never the raw path, whose tokens and ids would make a series per card. A request stopped
// by a middleware (a wrong secret, a rate limit) only reached that middleware's prefix, so its
// template is looked up among the registered routes; a path matching none is "unmatched".
func (m *metrics) route(c *fiber.Ctx) string {
	if m.routes == nil {
		return "unmatched"
	}
	// Fiber reports a middleware's route with the request's method, so a route is the
	// request's own only if it is one registered with a handler, and, when it has no
	// parameters, only if it is the request's path: an unmatched request reports the last
	// app.Use's "/", which is also the front door's template.
	if r := c.Route(); r != nil && m.routes.exact[routeKey{r.Method, r.Path}] &&
		(len(r.Params) > 0 || strings.EqualFold(strings.TrimSuffix(c.Path(), "/"), strings.TrimSuffix(r.Path, "/"))) {
		return r.Path
	}
	return m.routes.match(c.Method(), c.Path())
}

type routeKey struct{ method, path string }

// routeMatcher finds the template of a path among the app's routes, for requests that a
// middleware answered before Fiber got to the route.
type routeMatcher struct {
	exact    map[routeKey]bool     // every registered method and template
	byMethod map[string][][]string // method -> each route's path split into segments
	paths    map[string][]string   // method -> each route's template, same order
}

// newRouteMatcher indexes routes, the app's GetRoutes(true): those with a handler, no
// middleware.
func newRouteMatcher(routes []fiber.Route) *routeMatcher {
	rm := &routeMatcher{exact: map[routeKey]bool{}, byMethod: map[string][][]string{}, paths: map[string][]string{}}
	for _, r := range routes {
		rm.exact[routeKey{r.Method, r.Path}] = true
		rm.byMethod[r.Method] = append(rm.byMethod[r.Method], strings.Split(strings.Trim(r.Path, "/"), "/"))
		rm.paths[r.Method] = append(rm.paths[r.Method], r.Path)
	}
	return rm
}

// match returns the template of the first route of method (GET for HEAD) whose segments
// match path: a ":param" matches one non-empty segment, a "*" the rest. "unmatched" if none.
func (rm *routeMatcher) match(method, path string) string {
	if method == fiber.MethodHead {
		method = fiber.MethodGet
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
next:
	for i, tmpl := range rm.byMethod[method] {
		for j, t := range tmpl {
			if t == "*" || t == "+" {
				return rm.paths[method][i]
			}
			if j >= len(segs) {
				continue next
			}
			if strings.HasPrefix(t, ":") {
				if segs[j] == "" {
					continue next
				}
				continue
			}
			if t != segs[j] {
				continue next
			}
		}
		if len(tmpl) == len(segs) {
			return rm.paths[method][i]
		}
	}
	return "unmatched"
}

// handleMetrics serves the metrics on the main port, only to a bearer of
// CITYCARD_METRICS_TOKEN. Without a token configured the route answers 404, as if absent:
// operators who scrape the separate CITYCARD_METRICS_ADDR expose nothing here.
func (s *server) handleMetrics(c *fiber.Ctx) error {
	if s.metricsTokenHash == nil {
		return fiber.ErrNotFound
	}
	// A wrong or missing token counts as a failed sign-in, like any other secret; the right
	// one always gets in.
	if !s.isMetricsToken(bearer(c)) {
		return s.signinFailed(c)
	}
	var buf bytes.Buffer
	ct, err := s.writeMetrics(&buf)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}

// isMetricsToken compares secret with the configured metrics token in constant time.
func (s *server) isMetricsToken(secret string) bool {
	if s.metricsTokenHash == nil || secret == "" {
		return false
	}
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], s.metricsTokenHash) == 1
}

// writeMetrics writes every metric in Prometheus' text format and returns its content type.
func (s *server) writeMetrics(w io.Writer) (string, error) {
	mfs, err := s.metrics.reg.Gather()
	if err != nil {
		return "", fmt.Errorf("gather metrics: %w", err)
	}
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	enc := expfmt.NewEncoder(w, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return "", err
		}
	}
	return string(format), nil
}

// serveMetrics serves GET /metrics on its own listener (CITYCARD_METRICS_ADDR) until ctx is
// done, with the same token check as the main port when a token is set too. It returns once
// the listener is closed.
func (s *server) serveMetrics(ctx context.Context, ln net.Listener) error {
	h := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	mux := http.NewServeMux()
	// The metrics token, when set, guards the metrics and the profiles alike.
	guard := func(h http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if s.metricsTokenHash != nil {
				auth := r.Header.Get("Authorization")
				if len(auth) < 7 || !strings.EqualFold(auth[:7], "bearer ") || !s.isMetricsToken(strings.TrimSpace(auth[7:])) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusUnauthorized)
					io.WriteString(w, `{"error":{"code":"unauthorized","message":"missing or wrong secret"}}`)
					return
				}
			}
			h.ServeHTTP(w, r)
		}
	}
	mux.HandleFunc("GET /metrics", guard(h))
	// Go's profiles (CPU, heap, goroutines, mutex and block), for finding where a busy
	// instance spends its time: only on this operator's listener, never on the service's.
	mux.HandleFunc("GET /debug/pprof/", guard(http.HandlerFunc(pprof.Index)))
	mux.HandleFunc("GET /debug/pprof/profile", guard(http.HandlerFunc(pprof.Profile)))
	mux.HandleFunc("GET /debug/pprof/trace", guard(http.HandlerFunc(pprof.Trace)))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// watchWallet publishes the wallet certificates' expiry.
func (m *metrics) watchWallet(k *walletKit) {
	if k == nil || k.apple == nil {
		return
	}
	pass, wwdr := k.apple.Certificates()
	m.walletExpiry.WithLabelValues("apple_pass").Set(float64(pass.NotAfter.Unix()))
	m.walletExpiry.WithLabelValues("apple_wwdr").Set(float64(wwdr.NotAfter.Unix()))
}

// walletDelivered counts one delivery attempt.
func (m *metrics) walletDelivered(kind, result string) {
	m.walletDeliveries.WithLabelValues(kind, result).Inc()
}
