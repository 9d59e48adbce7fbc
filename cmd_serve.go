package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"time"

	"go.opentelemetry.io/otel"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"

	"github.com/mnistserve/app/grpcapi"
	"github.com/mnistserve/app/keys"
	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/registry"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/tracing"
	"github.com/mnistserve/app/train"
)

var cmdServe = &Command{
	UsageLine: "app serve [flags]",
	Short:     "serve predictions over HTTP, storing each one",
	Long: `Serves predictions over HTTP, storing each one. When --models holds no valid
model it first trains one, answering 503 on /predict and /readyz meanwhile.
SIGINT or SIGTERM stops it after the requests in flight finish.`,
	Flag: func(fs *FlagSet) RunFunc {
		cfg := defaultServeConfig()
		cfg.flags(fs)
		return func(ctx context.Context, _ []string, _, stderr io.Writer) error {
			if err := cfg.validate(); err != nil {
				return err
			}
			logs := newLogBuffer(stderr, logFlushEvery)
			defer logs.Close()
			return serveMain(ctx, cfg, slog.New(logs.Handler(slog.NewTextHandler(logs, nil))))
		}
	},
}

// serveConfig is the configuration of `app serve`. The flags bind straight
// into it, including the server's own serve.Config and the train.Config of
// the first-boot training.
type serveConfig struct {
	Addr       string
	GRPCAddr   string // Open Inference Protocol over gRPC; "" = off
	DB         string
	DBPatience time.Duration // how long to wait for the database at start
	Watch      time.Duration // how often to look for a newer model; 0 = never
	Keys       string        // API keys file; "" = no tokens asked
	Retain     time.Duration // delete rows older than this; 0 = keep all
	Serve      serve.Config
	// Train is the first-boot training; its ModelDir is the folder served
	// and its DataDir the MNIST folder.
	Train train.Config
}

// defaultServeConfig returns the defaults of `app serve` before the
// environment and the flags override them.
func defaultServeConfig() serveConfig {
	return serveConfig{
		Addr:       ":5000",
		DBPatience: 60 * time.Second,
		Watch:      10 * time.Second,
		Serve:      serve.DefaultConfig(),
		Train:      train.DefaultConfig(),
	}
}

// flags declares the flags of `app serve`, bound to the fields of cfg.
func (cfg *serveConfig) flags(fs *FlagSet) {
	fs.String(&cfg.Addr, "addr", "listen address (`ADDR`: host:port)", EnvAs("PORT", "the port", func(port string) string { return ":" + port }))
	fs.String(&cfg.GRPCAddr, "grpc-addr", "listen address of the Open Inference Protocol over gRPC (`ADDR`: host:port); empty: no gRPC", Env("GRPC_ADDR"))
	modelsFlag(fs, &cfg.Train.ModelDir)
	dataFlag(fs, &cfg.Train.DataDir)
	fs.String(&cfg.DB, "db", "PostgreSQL `URL` (postgres://user:pass@host:5432/db?sslmode=disable); empty: the SQLite file predictions.db in the working directory", Env("DATABASE_URL"))
	fs.Value((*byteSize)(&cfg.Serve.MaxBody), "max-body", "largest request body, a `SIZE` such as 1048576, 1MiB or 512KiB; larger ones get 413")
	fs.Duration(&cfg.Serve.Timeout, "timeout", "deadline of each request; a slower database answers 503")
	fs.Duration(&cfg.Serve.WriteTimeout, "write-timeout", "longest time from a request's headers to the end of its answer, so a client that never reads cannot hold a connection (0 = 30s + --timeout + 15s)")
	fs.Int(&cfg.Serve.MaxBatch, "max-batch", "most images in one model call, gathered from concurrent requests")
	fs.Duration(&cfg.Serve.MaxDelay, "max-delay", "longest a model call waits for more requests to fill its batch (0 = take only those already waiting, so a lone request is never held back)")
	fs.Int(&cfg.Serve.QueueLength, "max-queue", "most prediction requests admitted at once; more are answered 503 with Retry-After at once")
	fs.Duration(&cfg.Serve.QueueLatency, "queue-latency", "admitted requests' latency the queue aims at: while it is full, it is shortened below --max-queue if more than 1% take longer (0 = always --max-queue)")
	fs.Int(&cfg.Train.Epochs, "train-epochs", "epochs of the first-boot training")
	fs.Int(&cfg.Train.Limit, "train-limit", "first-boot training on only the first N images (0 = all)")
	fs.Duration(&cfg.Watch, "watch", "how often to look in --models for a newer model and serve it without a restart (0 = never)")
	fs.String(&cfg.Keys, "keys", "API keys `FILE` made by app keys add, or db for table api_keys of the --db database (shared by replicas); empty: no token asked, every route open", Env("API_KEYS_FILE"))
	fs.Bool(&cfg.Serve.OpenPredict, "open-predict", "with --keys: anyone may predict without a token; reading stored rows still needs one", Env("OPEN_PREDICT"))
	fs.Float64(&cfg.Serve.Rate, "rate", "requests per second each token (or, without one, each client address) may sustain; 0 = no limit", Env("RATE_LIMIT"))
	fs.Int(&cfg.Serve.Burst, "burst", "requests a client may send at once on top of --rate (0: --rate rounded up; ignored without --rate)", Env("RATE_BURST"))
	fs.Value((*cidrList)(&cfg.Serve.TrustedProxies), "trusted-proxies", "comma-separated `CIDRS` of proxies whose X-Forwarded-For is believed (nginx's network)", Env("TRUSTED_PROXIES"))
	fs.Duration(&cfg.Retain, "retain", "delete stored predictions (images included) older than this, e.g. 720h (0 = keep all)", Env("RETAIN"))
	fs.Value((*byteSize)(&cfg.Serve.DecodeBudget), "decode-budget", "memory all image decodes in flight may take together, a `SIZE`; an upload that alone needs more gets 413")
	fs.Value((*originList)(&cfg.Serve.CORSOrigins), "cors-origins", "comma-separated `ORIGINS` whose pages may call the API (empty: no CORS)", Env("CORS_ORIGINS"))
}

// validate checks the settings before anything starts.
func (cfg *serveConfig) validate() error {
	_, port, addrErr := net.SplitHostPort(cfg.Addr)
	switch {
	case addrErr != nil || port == "":
		return fmt.Errorf("--addr (or PORT) must be host:port or :port, got %q", cfg.Addr)
	case cfg.Serve.MaxBody <= 0:
		return fmt.Errorf("--max-body must be positive, got %d", cfg.Serve.MaxBody)
	case cfg.Serve.Timeout <= 0:
		return fmt.Errorf("--timeout must be positive, got %v", cfg.Serve.Timeout)
	case cfg.Watch < 0:
		return fmt.Errorf("--watch must be 0 or positive, got %v", cfg.Watch)
	case cfg.Serve.WriteTimeout < 0:
		return fmt.Errorf("--write-timeout must be 0 or positive, got %v", cfg.Serve.WriteTimeout)
	case cfg.Serve.MaxBatch < 1:
		return fmt.Errorf("--max-batch must be at least 1, got %d", cfg.Serve.MaxBatch)
	case cfg.Serve.MaxDelay < 0:
		return fmt.Errorf("--max-delay must be 0 or positive, got %v", cfg.Serve.MaxDelay)
	case cfg.Serve.MaxDelay >= cfg.Serve.Timeout:
		return fmt.Errorf("--max-delay %v must be shorter than --timeout %v: a request held that long for its batch would time out", cfg.Serve.MaxDelay, cfg.Serve.Timeout)
	case cfg.Serve.QueueLength < 1:
		return fmt.Errorf("--max-queue must be at least 1, got %d", cfg.Serve.QueueLength)
	case cfg.Serve.QueueLatency < 0:
		return fmt.Errorf("--queue-latency must be 0 or positive, got %v", cfg.Serve.QueueLatency)
	case cfg.Serve.OpenPredict && cfg.Keys == "":
		return errors.New("--open-predict needs --keys: without keys everything is open already")
	case cfg.Serve.Rate < 0 || math.IsNaN(cfg.Serve.Rate) || math.IsInf(cfg.Serve.Rate, 0):
		return fmt.Errorf("--rate must be 0 or a positive number, got %v", cfg.Serve.Rate)
	case cfg.Serve.Burst < 0:
		return fmt.Errorf("--burst must be 0 or positive, got %d", cfg.Serve.Burst)
	case cfg.Retain < 0:
		return fmt.Errorf("--retain must be 0 or positive, got %v", cfg.Retain)
	}
	if cfg.Serve.Rate > 0 && cfg.Serve.Burst == 0 {
		cfg.Serve.Burst = int(math.Ceil(cfg.Serve.Rate))
	}
	if err := cfg.Train.Validate(); err != nil {
		return fmt.Errorf("first-boot training (--train-epochs, --train-limit, --data, --models): %w", err)
	}
	return nil
}

// serveMain opens the store, starts the server and, on first boot, the
// training; it returns once the server has drained and everything is closed.
func serveMain(ctx context.Context, cfg serveConfig, logger *slog.Logger) error {
	tuneGC(logger)
	st, err := openStore(ctx, cfg.DB, cfg.DBPatience, logger)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped by a signal while waiting: a clean exit
		}
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error("close database", "error", err)
		}
		logger.Info("database closed")
	}()
	logger.Info("database opened", "driver", st.Driver())

	var ring *keys.Keyring
	if cfg.Keys != "" {
		from, _, err := keysBackend(ctx, cfg.Keys, "", st)
		if err != nil {
			return err
		}
		ring, err = keys.OpenBackend(ctx, from, logger)
		if err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		cfg.Serve.Keys = ring
		logger.Info("API keys on", "keys", from.String(), "count", ring.Len(), "open_predict", cfg.Serve.OpenPredict)
	}
	cfg.Serve.Version = version
	tp, err := startTracing(ctx, logger)
	if err != nil {
		return err
	}
	if tp != nil {
		defer stopTracing(tp, logger)
		cfg.Serve.Tracing = tp
	}
	srv := serve.New(cfg.Serve, st, logger)
	defer srv.Close()
	st.OnCommit(srv.ObserveCommit)
	g, gctx := errgroup.WithContext(ctx)
	if ring != nil {
		g.Go(func() error { return ring.Run(gctx, keys.DefaultReload) })
	}
	if cfg.Retain > 0 {
		g.Go(func() error { return st.Retain(gctx, cfg.Retain, logger) })
	}

	reg, err := registry.OpenWith(ctx, cfg.Train.ModelDir, st, logger)
	if err != nil {
		return err
	}
	models := registry.NewKeeper(reg, func(p *model.Predictor) { srv.SetModel(p) }, srv.SetStatus, logger)
	defer models.Close()
	srv.SetCatalog(models)
	srv.SetVersions(versionLoader{reg})
	switch err := models.Load(ctx); {
	case err == nil:
	case errors.Is(err, model.ErrNoModel):
		g.Go(func() error {
			return models.FirstBoot(gctx, firstBootTrain(cfg.Train, reg, models, srv, logger))
		})
	default:
		return fmt.Errorf("load model from the %s: %w", reg, err)
	}
	if cfg.Watch > 0 {
		g.Go(func() error { return models.Watch(gctx, cfg.Watch) })
	}
	g.Go(func() error { return srv.Start(gctx, cfg.Addr) })
	if cfg.GRPCAddr != "" {
		rpc := newGRPCServer(cfg.Serve, srv, ring, logger)
		g.Go(func() error { return rpc.Start(gctx, cfg.GRPCAddr) })
	}
	return g.Wait()
}

// startTracing turns tracing on when the OTEL_* variables ask for it
// (tracing.FromEnv); nil when they do not.
func startTracing(ctx context.Context, logger *slog.Logger) (*tracing.Provider, error) {
	tp, err := tracing.FromEnv(ctx, "mnist-app", version)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if tp == nil {
		logger.Info("tracing off: no OTEL_EXPORTER_OTLP_ENDPOINT")
		return nil, nil
	}
	// The SDK reports failed exports through this one global hook.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { logger.Warn("tracing", "error", err) }))
	logger.Info("tracing on: spans exported by OTLP", "endpoint", tp.Endpoint, "protocol", tp.Protocol)
	return tp, nil
}

// stopTracing exports the spans still buffered, waiting a few seconds at
// most for a receiver that has gone.
func stopTracing(tp *tracing.Provider, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		logger.Warn("tracing: flush the last spans", "error", err)
	}
}

// newGRPCServer is the gRPC face of srv's protocol service, with the same
// keys, rate limit, body limit and deadlines as the HTTP routes.
func newGRPCServer(cfg serve.Config, srv *serve.Server, ring *keys.Keyring, logger *slog.Logger) *grpcapi.Server {
	gc := grpcapi.Config{
		OpenPredict:     cfg.OpenPredict,
		MaxMessage:      int(min(cfg.MaxBody, math.MaxInt32)),
		Timeout:         cfg.Timeout,
		ShutdownTimeout: cfg.ShutdownTimeout,
		NotReady:        srv.Status,
		Observe: func(ctx context.Context, method string, code codes.Code, took time.Duration) {
			srv.ObserveRPC(ctx, method, code.String(), took)
		},
		Tracing: cfg.Tracing,
	}
	if cfg.Rate > 0 {
		// Without a limit, leaving Allow nil spares each call its client id.
		gc.Allow = srv.RateAllow
	}
	if ring != nil {
		gc.Keys = ring
	}
	return grpcapi.New(srv.OIP(), gc, logger)
}

// openStore opens the database, waiting up to patience for one that is not
// up yet: compose starts the database and the server together.
func openStore(ctx context.Context, url string, patience time.Duration, logger *slog.Logger) (*store.Store, error) {
	const pause = 2 * time.Second
	giveUp := time.Now().Add(patience)
	for attempt := 1; ; attempt++ {
		st, err := store.Open(ctx, url, logger)
		if err == nil {
			return st, nil
		}
		if !errors.Is(err, store.ErrUnavailable) || time.Now().Add(pause).After(giveUp) {
			return nil, fmt.Errorf("open database: %w", err)
		}
		logger.Warn("database unavailable, retrying", "attempt", attempt, "retry_in", pause, "error", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// versionLoader loads models by version from the registry, for the v2
// routes that name a version other than the served one and the saliency
// maps of predictions an earlier model made.
type versionLoader struct{ reg *registry.Registry }

// LoadVersion loads and checks version; the server keeps the few it loaded last.
func (l versionLoader) LoadVersion(ctx context.Context, version string) (serve.Model, error) {
	w, meta, err := l.reg.Load(ctx, version)
	if err != nil {
		return nil, err
	}
	return model.NewPredictor(w, meta), nil
}
