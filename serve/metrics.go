package serve

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/store"
)

// metrics are the server's Prometheus series. Each Server has its own
// registry, so tests can build several servers in one process.
type metrics struct {
	registry    *prometheus.Registry
	openMetrics bool // serve OpenMetrics, which carries exemplars, to scrapers that ask
	// exemplars pace the exemplars of the latency histograms (trace.go).
	exemplars    struct{ latency, admitted, rpc exemplarGate }
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	predictions  *prometheus.CounterVec
	perDigit     [model.Classes]prometheus.Counter // predictions' series, resolved once
	batchSize    prometheus.Histogram
	storeWrite   prometheus.Histogram
	modelBatch   prometheus.Histogram
	queueWait    prometheus.Histogram
	admitted     prometheus.Histogram
	commitRows   prometheus.Histogram
	commitTime   prometheus.Histogram
	commitErrors prometheus.Counter
	modelLoaded  prometheus.Gauge
	modelVersion *prometheus.GaugeVec
	rpcs         *prometheus.CounterVec
	rpcLatency   *prometheus.HistogramVec
}

func newMetrics(openMetrics bool) *metrics {
	m := &metrics{
		registry:    prometheus.NewRegistry(),
		openMetrics: openMetrics,
		// Labels are route patterns ("/predictions/:id"), never raw paths,
		// so that the number of series stays bounded.
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		predictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "predictions_total",
			Help: "Stored predictions, by predicted digit.",
		}, []string{"digit"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "prediction_batch_size",
			Help:    "Images per prediction request (1 for /predict).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 9), // 1 .. 256
		}),
		storeWrite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "store_write_duration_seconds",
			Help:    "Time to commit the rows of one prediction request.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms .. 4 s
		}),
		modelBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "model_batch_size",
			Help:    "Images per model call, gathered from concurrent requests.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 9), // 1 .. 256
		}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "predict_queue_wait_seconds",
			Help:    "Time a prediction request waits in the queue before its model call starts.",
			Buckets: prometheus.ExponentialBuckets(0.0000625, 2, 14), // 62.5 us .. 0.5 s
		}),
		admitted: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "predict_admitted_duration_seconds",
			Help: "Time from a prediction request's admission to its answer (decode, queue, model, commit); refused requests are not in it.",
			// Fine steps around the targets (1, 30, 40 and 100 ms).
			Buckets: []float64{.0005, .001, .002, .005, .01, .015, .02, .025, .03, .035, .04, .05, .06, .07, .08, .09, .1, .125, .15, .2, .3, .5, 1, 2.5, 5, 10},
		}),
		commitRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "store_commit_rows",
			Help:    "Rows per group commit, from concurrent requests.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 .. 1024
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "store_commit_duration_seconds",
			Help:    "Time of one group commit, from BEGIN to the end of COMMIT.",
			Buckets: prometheus.ExponentialBuckets(0.000125, 2, 16), // 0.125 ms .. 4 s
		}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "store_commit_errors_total",
			Help: "Group commits that failed (their requests were answered with an error).",
		}),
		modelLoaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "model_loaded",
			Help: "1 while a model is served, 0 while none is (first-boot training).",
		}),
		modelVersion: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "model_info",
			Help: "Always 1, labelled with the version of the served model.",
		}, []string{"version"}),
		rpcs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_requests_total",
			Help: "gRPC calls answered, by method and status code (the HTTP routes' are http_requests_total).",
		}, []string{"method", "code"}),
		rpcLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_request_duration_seconds",
			Help:    "Time to answer a gRPC call, by method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method"}),
	}
	m.registry.MustRegister(
		m.rpcs, m.rpcLatency,
		m.requests, m.latency, m.predictions, m.batchSize, m.storeWrite,
		m.modelBatch, m.queueWait, m.admitted, m.commitRows, m.commitTime, m.commitErrors,
		m.modelLoaded, m.modelVersion,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Every digit is present from the start, so a dashboard sees zeros
	// rather than missing series; the hot path then counts without a
	// label lookup.
	for d := range m.perDigit {
		m.perDigit[d] = m.predictions.WithLabelValues(strconv.Itoa(d))
	}
	return m
}

// watchQueue reports the admission bound's depth and limit, read from it
// at each scrape rather than copied on every request.
func (m *metrics) watchQueue(a interface {
	Depth() int64
	Limit() int64
	Goal() time.Duration
}) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "predict_queue_depth",
			Help: "Prediction requests admitted and not yet answered.",
		}, func() float64 { return float64(a.Depth()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "predict_queue_limit",
			Help: "Prediction requests admitted at once before more are answered 503: --max-queue, lowered under overload while admitted requests take longer than --queue-latency.",
		}, func() float64 { return float64(a.Limit()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "predict_queue_latency_goal_seconds",
			Help: "The admitted requests' latency the admission bound aims at (--queue-latency); 0: none.",
		}, func() float64 { return a.Goal().Seconds() }),
	)
}

// watchHealth reports what the alert rules of deploy/prometheus need and
// the other series do not say: requests shed for a full queue, whether the
// database answers, and the served model's test accuracy beside the live
// accuracy of labelled predictions. The last three are read at scrape time.
func (m *metrics) watchHealth(s *Server) {
	m.registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "predict_shed_total",
			Help: "Prediction requests answered 503 because the admission queue was full (also counted in http_requests_total).",
		}, func() float64 { return float64(s.shed.total.Load()) }),
		&healthCollector{s: s, liveEvery: liveAccuracyEvery},
	)
}

// liveAccuracyEvery is how often at most a scrape counts the labelled
// predictions in the database: every replica reads the same table, and a
// scrape every few seconds need not scan it each time.
const liveAccuracyEvery = 30 * time.Second

var (
	descDatabaseUp = prometheus.NewDesc("database_up",
		"1 when the database answered a ping at this scrape (within the readiness timeout), 0 when it did not.", nil, nil)
	descTestAccuracy = prometheus.NewDesc("model_test_accuracy",
		"Accuracy of the served model on the 10,000 test images, from its metadata; absent while no model is served.", []string{"version"}, nil)
	descLiveAccuracy = prometheus.NewDesc("model_live_accuracy",
		"Share of a model's labelled predictions whose label is its prediction, from the database; absent for a model with none labelled.", []string{"version"}, nil)
	descLabelled = prometheus.NewDesc("model_labelled_predictions",
		"A model's stored predictions that carry a label, from the database.", []string{"version"}, nil)
)

// healthCollector answers database_up, model_test_accuracy and the live
// accuracy series at each scrape.
type healthCollector struct {
	s         *Server
	liveEvery time.Duration

	mu       sync.Mutex // guards the cached count below
	liveAt   time.Time
	live     map[string]store.Live
	liveSeen bool
}

// Describe sends the descriptions of the series Collect makes.
func (h *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDatabaseUp
	ch <- descTestAccuracy
	ch <- descLiveAccuracy
	ch <- descLabelled
}

// Collect pings the database and sends the series.
func (h *healthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), h.s.cfg.ReadyTimeout)
	defer cancel()
	up := 0.0
	if h.s.store.Ping(ctx) == nil {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descDatabaseUp, prometheus.GaugeValue, up)
	if m, err := h.s.currentModel(); err == nil {
		meta := m.Meta()
		ch <- prometheus.MustNewConstMetric(descTestAccuracy, prometheus.GaugeValue, meta.TestAccuracy, meta.Version)
	}
	if up == 0 {
		return
	}
	for version, l := range h.liveAccuracy(ctx) {
		if a := l.Accuracy(); a != nil {
			ch <- prometheus.MustNewConstMetric(descLiveAccuracy, prometheus.GaugeValue, *a, version)
		}
		ch <- prometheus.MustNewConstMetric(descLabelled, prometheus.GaugeValue, float64(l.Labelled), version)
	}
}

// liveAccuracy returns the labelled counts per model, counted again when
// the last count is older than liveEvery; on an error, the last count.
func (h *healthCollector) liveAccuracy(ctx context.Context) map[string]store.Live {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.liveSeen && time.Since(h.liveAt) < h.liveEvery {
		return h.live
	}
	live, err := h.s.store.LiveAccuracy(ctx)
	if err != nil {
		return h.live
	}
	h.live, h.liveAt, h.liveSeen = live, time.Now(), true
	return live
}

// setModel records which model is served.
func (m *metrics) setModel(version string) {
	m.modelVersion.Reset()
	if version == "" {
		m.modelLoaded.Set(0)
		return
	}
	m.modelLoaded.Set(1)
	m.modelVersion.WithLabelValues(version).Set(1)
}

// ObserveCommit records one group commit of the store in the metrics; wire
// it with (*store.Store).OnCommit.
func (s *Server) ObserveCommit(cs store.CommitStats) {
	s.metrics.commitRows.Observe(float64(cs.Rows))
	s.metrics.commitTime.Observe(cs.Duration.Seconds())
	if cs.Err != nil {
		s.metrics.commitErrors.Inc()
	}
	s.traceCommit(cs)
}

// handler answers the Prometheus text format from this server's registry.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{EnableOpenMetrics: m.openMetrics})
}

// ObserveRPC records one gRPC call (ctx: the call's, with its span) in
// the metrics; the gRPC server calls it for each. Method names are the
// service's own, a bounded set.
func (s *Server) ObserveRPC(ctx context.Context, method, code string, took time.Duration) {
	s.metrics.rpcs.WithLabelValues(method, code).Inc()
	observeLatency(&s.metrics.exemplars.rpc, s.metrics.rpcLatency.WithLabelValues(method), took.Seconds(), s.spanContextOf(ctx))
}
