package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/train"
)

// serveConfig is the configuration of `app serve`.
type serveConfig struct {
	Addr        string
	Models      string
	Data        string
	DB          string
	MaxBody     byteSize
	Timeout     time.Duration
	TrainEpochs int
	TrainLimit  int
	DBPatience  time.Duration // how long to wait for the database at start
	Watch       time.Duration // how often to look for a newer model; 0 = never
}

// defaultServeConfig returns the defaults of `app serve` before the
// environment and the flags override them.
func defaultServeConfig() serveConfig {
	def := serve.DefaultConfig()
	tc := train.DefaultConfig()
	return serveConfig{
		Addr:        ":5000",
		Models:      tc.ModelDir,
		Data:        tc.DataDir,
		DB:          "",
		MaxBody:     byteSize(def.MaxBody),
		Timeout:     def.Timeout,
		TrainEpochs: tc.Epochs,
		TrainLimit:  tc.Limit,
		DBPatience:  60 * time.Second,
		Watch:       10 * time.Second,
	}
}

// applyEnv overrides cfg with the environment the contract names.
func (cfg *serveConfig) applyEnv() {
	if port := envOr("PORT", ""); port != "" {
		cfg.Addr = ":" + port
	}
	cfg.DB = envOr("DATABASE_URL", cfg.DB)
	cfg.Models = envOr("MODEL_DIR", cfg.Models)
	cfg.Data = envOr("MNIST_DIR", cfg.Data)
}

// runServe serves predictions until ctx is cancelled, training a first
// model in the background when there is none.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseServeFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	// The packages below (the store's GORM logger, the model loader) log
	// through the default logger: send it to the same place.
	slog.SetDefault(logger)
	return serveMain(ctx, cfg, logger)
}

// parseServeFlags returns the configuration: defaults, overridden by the
// environment, overridden by args.
func parseServeFlags(args []string, stderr io.Writer) (serveConfig, error) {
	cfg := defaultServeConfig()
	cfg.applyEnv()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (env PORT sets the port)")
	fs.StringVar(&cfg.Models, "models", cfg.Models, "folder of trained models (env MODEL_DIR)")
	fs.StringVar(&cfg.Data, "data", cfg.Data, "MNIST folder, for first-boot training (env MNIST_DIR)")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "PostgreSQL URL postgres://user:pass@host:5432/db?sslmode=disable; empty = SQLite file predictions.db (env DATABASE_URL)")
	fs.Var(&cfg.MaxBody, "max-body", "largest request body, e.g. 1MiB, 512KiB or bytes")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "deadline of each request; a slower database answers 503")
	fs.IntVar(&cfg.TrainEpochs, "train-epochs", cfg.TrainEpochs, "epochs of first-boot training")
	fs.IntVar(&cfg.TrainLimit, "train-limit", cfg.TrainLimit, "train first-boot on only the first N images (0 = all)")
	fs.DurationVar(&cfg.Watch, "watch", cfg.Watch, "how often to look in --models for a newer model to serve (0 = never)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: app serve [flags]")
		fmt.Fprintln(stderr, "Serves predictions over HTTP, storing each one. When --models holds no valid")
		fmt.Fprintln(stderr, "model it first trains one, answering 503 on /predict and /readyz meanwhile.")
		fmt.Fprintln(stderr, "SIGINT or SIGTERM stops it after the requests in flight finish.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	switch {
	case cfg.MaxBody <= 0:
		return cfg, fmt.Errorf("--max-body must be positive, got %d", cfg.MaxBody)
	case cfg.Timeout <= 0:
		return cfg, fmt.Errorf("--timeout must be positive, got %v", cfg.Timeout)
	case cfg.TrainEpochs < 1:
		return cfg, fmt.Errorf("--train-epochs must be at least 1, got %d", cfg.TrainEpochs)
	case cfg.Watch < 0:
		return cfg, fmt.Errorf("--watch must be 0 or positive, got %v", cfg.Watch)
	case cfg.TrainLimit < 0:
		return cfg, fmt.Errorf("--train-limit must be 0 or more, got %d", cfg.TrainLimit)
	}
	return cfg, nil
}

// serveMain opens the store, starts the server and, on first boot, the
// training; it returns once the server has drained and everything is closed.
func serveMain(ctx context.Context, cfg serveConfig, logger *slog.Logger) error {
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

	srv := serve.New(serve.Config{MaxBody: int64(cfg.MaxBody), Timeout: cfg.Timeout}, st, logger)
	g, gctx := errgroup.WithContext(ctx)

	models := newModelKeeper(cfg.Models, srv, logger)
	defer models.close()
	switch err := models.load(); {
	case err == nil:
	case errors.Is(err, model.ErrNoModel):
		g.Go(func() error { return models.firstBoot(gctx, cfg) })
	default:
		return fmt.Errorf("load model from %s: %w", cfg.Models, err)
	}
	if cfg.Watch > 0 {
		g.Go(func() error { return models.watch(gctx, cfg.Watch) })
	}
	g.Go(func() error { return srv.Start(gctx, cfg.Addr) })
	return g.Wait()
}

// openStore opens the database, waiting up to patience for one that is not
// up yet: compose starts the database and the server together.
func openStore(ctx context.Context, url string, patience time.Duration, logger *slog.Logger) (*store.Store, error) {
	const pause = 2 * time.Second
	giveUp := time.Now().Add(patience)
	for attempt := 1; ; attempt++ {
		st, err := store.Open(ctx, url)
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

// byteSize is a flag value of a size in bytes: 1048576, 1MiB, 512KiB.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"MiB", 1 << 20}, {"KiB", 1 << 10}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return fmt.Errorf("want a positive size such as 1048576, 1MiB or 512KiB, got %q", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// trainLog turns the output of first-boot training into log lines, and
// keeps the server's 503 message saying which epoch training has reached.
type trainLog struct {
	mu     sync.Mutex
	logger *slog.Logger
	srv    *serve.Server
	buf    []byte
}

// epochRE finds "epoch 3/15" in a progress line, whatever surrounds it.
var epochRE = regexp.MustCompile(`(?i)\bepoch\s+(\d+)\s*/\s*(\d+)`)

func newTrainLog(logger *slog.Logger, srv *serve.Server) *trainLog {
	return &trainLog{logger: logger, srv: srv}
}

// Write logs each complete line of p; a progress bar's carriage returns end
// lines too.
func (t *trainLog) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	for {
		i := bytes.IndexAny(t.buf, "\r\n")
		if i < 0 {
			break
		}
		t.line(string(t.buf[:i]))
		t.buf = t.buf[i+1:]
	}
	return len(p), nil
}

// flush logs a last line that had no newline.
func (t *trainLog) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.line(string(t.buf))
	t.buf = nil
}

func (t *trainLog) line(s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	t.logger.Info("training", "progress", s)
	if m := epochRE.FindStringSubmatch(s); m != nil {
		t.srv.SetStatus(fmt.Sprintf("model is training (first boot, epoch %s/%s); try again in a few minutes", m[1], m[2]))
	}
}
