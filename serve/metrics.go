package serve

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series. Each Server has its own
// registry, so tests can build several servers in one process.
type metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	predictions  *prometheus.CounterVec
	batchSize    prometheus.Histogram
	storeWrite   prometheus.Histogram
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
		m.modelLoaded, m.modelVersion,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Every digit is present from the start, so a dashboard sees zeros
	// rather than missing series.
	for d := range 10 {
		m.predictions.WithLabelValues(strconv.Itoa(d))
	}
	return m
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

// handler answers the Prometheus text format from this server's registry.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
