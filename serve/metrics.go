package serve

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/store"
)

// metrics are the server's Prometheus series. Each Server has its own
// registry, so tests can build several servers in one process.
type metrics struct {
	registry     *prometheus.Registry
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
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
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
	}
	m.registry.MustRegister(
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
func (m *metrics) watchQueue(a *admission) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "predict_queue_depth",
			Help: "Prediction requests admitted and not yet answered.",
		}, func() float64 { return float64(a.depth.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "predict_queue_limit",
			Help: "Prediction requests admitted at once before more are answered 503: --max-queue, lowered under overload while admitted requests take longer than --queue-latency.",
		}, func() float64 { return float64(a.limit.Load()) }),
	)
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
}

// handler answers the Prometheus text format from this server's registry.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
