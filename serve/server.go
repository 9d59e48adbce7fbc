// Package serve is the HTTP face of the program: it answers digit
// predictions with Echo, storing every request and answer before it replies.
// It talks to the network and the database through the small Model and
// Store interfaces it declares here.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/semaphore"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/oip"
	"github.com/mnistserve/app/pipeline"
	"github.com/mnistserve/app/store"
)

// Model is the served network: it answers the 10 class probabilities of
// each 784-byte image. *model.Predictor satisfies it.
type Model interface {
	Predict(ctx context.Context, images [][]byte) ([][model.Classes]float32, error)
	Meta() model.Meta
}

// Store keeps every prediction. *store.Store satisfies it.
type Store interface {
	Create(ctx context.Context, ps []*store.Prediction) error
	Get(ctx context.Context, id int64) (*store.Prediction, error)
	List(ctx context.Context, q store.ListQuery) ([]store.Prediction, error)
	SetLabel(ctx context.Context, id int64, label int) (*store.Prediction, error)
	ClearLabel(ctx context.Context, id int64) (*store.Prediction, error)
	LiveAccuracy(ctx context.Context) (map[string]store.Live, error)
	Outcomes(ctx context.Context, version string, limit int) ([]store.Outcome, error)
	Delete(ctx context.Context, id int64) error
	DeleteBefore(ctx context.Context, cutoff time.Time, batch int) (int64, error)
	Ping(ctx context.Context) error
	ReadKeyed(ctx context.Context, keyHash []byte) ([]store.Prediction, error)
}

// Config holds the settings of a Server; zero fields take DefaultConfig's.
type Config struct {
	MaxBody         int64         // largest request body in bytes
	Timeout         time.Duration // per-request deadline
	ReadyTimeout    time.Duration // how long /readyz waits for the database
	ShutdownTimeout time.Duration // how long Start waits for in-flight requests

	// Keys checks API tokens; nil means no authentication at all.
	Keys Keys
	// OpenPredict lets anonymous clients predict (never read stored rows)
	// when Keys is set.
	OpenPredict bool
	// Rate is the requests per second each client may sustain, Burst how
	// many it may send at once; Rate 0 means no limit.
	Rate  float64
	Burst int
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// when telling anonymous clients apart; empty means none is.
	TrustedProxies []*net.IPNet
	// CORSOrigins may call the API from their pages; empty means no CORS.
	CORSOrigins []string
	// DecodeBudget bounds the memory all image decodes in flight may use
	// together, in bytes; an image that alone would need more is refused.
	DecodeBudget int64
	// WriteTimeout bounds a request from its headers to the end of its
	// answer, so a client that never reads its answers cannot hold a
	// connection (and its goroutine and buffers) for ever.
	WriteTimeout time.Duration
	MaxBatch     int           // most images in one model call
	MaxDelay     time.Duration // longest a batch waits for more requests; 0 = take only what is queued
	QueueLength  int           // most prediction requests admitted at once; more are answered 503
	// QueueLatency is the admitted requests' latency (admission to answer)
	// the admission bound aims at: while the bound is reached, it is
	// lowered below QueueLength if more than 1% take longer. 0 keeps the bound at QueueLength;
	// negative takes DefaultConfig's.
	QueueLatency time.Duration
	// HeaderTimeout bounds the wait for a connection's request head, from
	// accept to the end of its headers, the door's wait included.
	HeaderTimeout time.Duration
	// Version is the program's version, for the v2 server metadata.
	Version string
	// Tracing makes the spans of every request (trace.go); nil: none.
	Tracing trace.TracerProvider
}

// DefaultConfig returns the limits README.md documents: 1 MiB bodies, a 10 s request
// deadline, a 2 s readiness probe and 30 s to drain on shutdown; and the
// batching defaults measured in BENCHMARKS.md.
func DefaultConfig() Config {
	return Config{
		MaxBody:         1 << 20,
		Timeout:         10 * time.Second,
		ReadyTimeout:    2 * time.Second,
		ShutdownTimeout: 30 * time.Second,
		HeaderTimeout:   10 * time.Second,
		DecodeBudget:    64 << 20,
		WriteTimeout:    0, // derived in New from the read and request timeouts
		MaxBatch:        64,
		MaxDelay:        0,
		QueueLength:     256,
		QueueLatency:    50 * time.Millisecond,
	}
}

// readTimeout bounds reading a request, body included: the request deadline
// does not bound reading the body (io.ReadAll ignores contexts), so a
// trickled upload is cut off here instead.
func (c Config) readTimeout() time.Duration { return max(30*time.Second, c.Timeout) }

// Server answers the HTTP API. A Server starts without a model (answering
// 503 on the routes that need one) until SetModel is called, so that it can
// listen while the first model trains.
type Server struct {
	cfg     Config
	e       *echo.Echo
	store   Store
	logger  *slog.Logger
	tracer  trace.Tracer // nil: no tracing
	metrics *metrics
	known   map[string]bool // route patterns, for bounded metric labels
	// spanStarts are each route's span name and options by path and method
	// (trace.go); nil without tracing.
	spanStarts map[string]map[string]spanStart
	opts       map[string]routeOpts // each route pattern's options (routes)
	// shedRoutes are "METHOD /pattern" of the routes the door may refuse.
	shedRoutes []string
	limiter    *limiter            // nil without Config.Rate
	decodes    *semaphore.Weighted // bytes of image decoding in flight

	model   atomic.Pointer[modelBox]
	catalog atomic.Pointer[catalogBox]
	status  atomic.Pointer[string]
	pipe    *pipeline.Pipeline // admission, batching, the model call and the group commit
	oip     *oip.Service       // the Open Inference Protocol, for the v2 routes and gRPC
	extra   extraModels        // models loaded by version for the v2 routes
	shed    shedLog            // counts and logs requests refused for a full queue

	inflight inflight // Idempotency-Keys being answered (idempotency.go)
}

// modelBox lets an interface value live in an atomic.Pointer.
type modelBox struct{ m Model }

// New returns a Server storing into st and logging to logger.
func New(cfg Config, st Store, logger *slog.Logger) *Server {
	def := DefaultConfig()
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = def.MaxBody
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = def.Timeout
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = def.ReadyTimeout
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = def.ShutdownTimeout
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = def.HeaderTimeout
	}
	if cfg.DecodeBudget <= 0 {
		cfg.DecodeBudget = def.DecodeBudget
	}
	if cfg.WriteTimeout <= 0 {
		// Reading the body, the work, then 15 s to send the largest answer
		// (a 256-image batch or a page of 500 predictions, ~100 KB).
		cfg.WriteTimeout = cfg.readTimeout() + cfg.Timeout + 15*time.Second
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = def.MaxBatch
	}
	if cfg.MaxDelay < 0 {
		cfg.MaxDelay = def.MaxDelay
	}
	if cfg.QueueLatency < 0 {
		cfg.QueueLatency = def.QueueLatency
	}
	if cfg.QueueLength <= 0 {
		cfg.QueueLength = def.QueueLength
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, e: echo.New(), store: st, logger: logger, metrics: newMetrics(cfg.Tracing != nil),
		decodes: semaphore.NewWeighted(cfg.DecodeBudget)}
	if cfg.Tracing != nil {
		s.tracer = cfg.Tracing.Tracer(tracerName)
	}
	if cfg.Rate > 0 {
		s.limiter = newLimiter(cfg.Rate, max(cfg.Burst, 1))
	}
	s.e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	s.SetStatus("no model loaded yet")
	s.e.HideBanner = true
	s.e.HidePort = true
	s.e.HTTPErrorHandler = s.handleError
	s.routes()
	s.pipe = pipeline.New(pipeline.Config{
		Workers:      runtime.GOMAXPROCS(0),
		MaxBatch:     cfg.MaxBatch,
		MaxDelay:     cfg.MaxDelay,
		QueueLength:  cfg.QueueLength,
		QueueLatency: cfg.QueueLatency,
		ModelTimeout: cfg.Timeout,
		Tracer:       s.tracer,
	}, s.servedModel, st, s.pipelineHooks())
	s.metrics.watchQueue(s.pipe)
	s.metrics.watchHealth(s)
	s.oip = &oip.Service{Pipeline: s.pipe, Models: oipModels{s}, Ready: s.ready, Version: cfg.Version}
	s.shed.log = func(n int64) {
		s.logger.Warn("queue full: prediction requests answered 503 since the last such line",
			"refused", n, "queue_limit", s.pipe.Limit(), "max_queue", cfg.QueueLength, "logged at most every", doorLogEvery)
	}
	return s
}

// Close stops the batcher goroutines after the requests they hold are
// answered. Serve calls it once the HTTP server has drained; a Server used
// only through ServeHTTP is closed by its owner.
func (s *Server) Close() {
	s.pipe.Close()
	s.extra.close()
}

// SetModel atomically swaps in m; requests already running keep the model
// they started with. A nil m takes the server back to not ready. It logs
// nothing: the caller, which knows why the model changed (first boot, a
// newer model, a pin), logs the swap once.
func (s *Server) SetModel(m Model) {
	if m == nil {
		s.model.Store(nil)
		s.metrics.setModel("")
		return
	}
	s.model.Store(&modelBox{m: m})
	s.metrics.setModel(m.Meta().Version)
}

// SetStatus sets the reason given in 503 answers while no model is loaded,
// for example "model is training (epoch 3/15)".
func (s *Server) SetStatus(reason string) { s.status.Store(&reason) }

// Status returns the reason the server is not ready.
func (s *Server) Status() string { return *s.status.Load() }

// servedModel is currentModel as the pipeline asks for it.
func (s *Server) servedModel() (pipeline.Model, error) { return s.currentModel() }

// currentModel returns the served model, or ErrNotReady while there is none.
func (s *Server) currentModel() (Model, error) {
	b := s.model.Load()
	if b == nil {
		return nil, ErrNotReady
	}
	return b.m, nil
}

// ServeHTTP answers one request through the whole middleware chain and the
// error handler, as the network server does.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// Start listens on addr and serves until ctx is done, then shuts down
// gracefully (see Serve).
func (s *Server) Start(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve answers requests on ln until ctx is done. It then stops accepting,
// lets the requests in flight finish (each has already committed its row
// before it answers) for up to ShutdownTimeout, and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.HeaderTimeout, // counted from accept: see prefixConn
		ReadTimeout:       s.cfg.readTimeout(),
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.logger.Info("listening", "addr", ln.Addr().String())
	if s.cfg.Keys == nil && !loopback(ln.Addr()) {
		s.logger.Warn("no keys file: anyone who can reach this address may read every stored image and use every route; "+
			"make keys with `app keys add` and start with --keys, or listen on 127.0.0.1", "addr", ln.Addr().String())
	}

	ln = newDoorListener(ln, s.pipe.Full, s.shedRoutes, s.rawErrorAnswer(ErrBusy), s.cfg.HeaderTimeout, func(route string, head []byte) {
		s.metrics.requests.WithLabelValues(route, http.MethodPost, strconv.Itoa(http.StatusServiceUnavailable)).Inc()
		s.shed.add()
		s.traceShed(route, head)
	})

	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Go(func() { serveErr <- srv.Serve(ln) })
	defer wg.Wait()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.logger.Info("shutting down: finishing requests in flight", "deadline", s.cfg.ShutdownTimeout)
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutCtx)
	// No request can queue for the model any more. Close waits for every
	// admitted request to be decided (stored, or failed by its own
	// deadline at the latest).
	s.Close()
	if err != nil {
		// The grace period ran out with requests in flight, and Close has
		// just seen them decided: give their handlers a moment to write
		// those answers (a 503 from the deadline, say) before the
		// connections are cut, or the client would get a cut connection
		// and the log a client that left (499).
		answerCtx, cancelAnswer := context.WithTimeout(context.WithoutCancel(ctx), answerGrace)
		_ = srv.Shutdown(answerCtx)
		cancelAnswer()
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	s.logger.Info("server stopped")
	return nil
}

// answerGrace is how long a forced shutdown, once every admitted request
// is decided, waits for their answers to be written before it closes the
// connections.
const answerGrace = time.Second

// loopback reports whether addr is reachable only from this machine.
func loopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// ipExtractor tells clients apart by address: the peer's, or with trusted
// proxies the nearest address in X-Forwarded-For that is not one of them.
// Echo trusts private networks by default; here only the listed ones are.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
