package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store"
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
			return serveMain(ctx, cfg, slog.New(slog.NewTextHandler(stderr, nil)))
		}
	},
}

// serveConfig is the configuration of `app serve`. The flags bind straight
// into it, including the server's own serve.Config and the train.Config of
// the first-boot training.
type serveConfig struct {
	Addr       string
	DB         string
	DBPatience time.Duration // how long to wait for the database at start
	Watch      time.Duration // how often to look for a newer model; 0 = never
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
	modelsFlag(fs, &cfg.Train.ModelDir)
	dataFlag(fs, &cfg.Train.DataDir)
	fs.String(&cfg.DB, "db", "PostgreSQL `URL` (postgres://user:pass@host:5432/db?sslmode=disable); empty: the SQLite file predictions.db in the working directory", Env("DATABASE_URL"))
	fs.Value((*byteSize)(&cfg.Serve.MaxBody), "max-body", "largest request body, a `SIZE` such as 1048576, 1MiB or 512KiB; larger ones get 413")
	fs.Duration(&cfg.Serve.Timeout, "timeout", "deadline of each request; a slower database answers 503")
	fs.Int(&cfg.Train.Epochs, "train-epochs", "epochs of the first-boot training")
	fs.Int(&cfg.Train.Limit, "train-limit", "first-boot training on only the first N images (0 = all)")
	fs.Duration(&cfg.Watch, "watch", "how often to look in --models for a newer model and serve it without a restart (0 = never)")
}

// validate checks the settings before anything starts.
func (cfg *serveConfig) validate() error {
	switch {
	case cfg.Serve.MaxBody <= 0:
		return fmt.Errorf("--max-body must be positive, got %d", cfg.Serve.MaxBody)
	case cfg.Serve.Timeout <= 0:
		return fmt.Errorf("--timeout must be positive, got %v", cfg.Serve.Timeout)
	case cfg.Watch < 0:
		return fmt.Errorf("--watch must be 0 or positive, got %v", cfg.Watch)
	}
	if err := cfg.Train.Validate(); err != nil {
		return fmt.Errorf("first-boot training (--train-epochs, --train-limit, --data, --models): %w", err)
	}
	return nil
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

	srv := serve.New(cfg.Serve, st, logger)
	g, gctx := errgroup.WithContext(ctx)

	models := newModelKeeper(cfg.Train.ModelDir, srv, logger)
	defer models.close()
	switch err := models.load(); {
	case err == nil:
	case errors.Is(err, model.ErrNoModel):
		g.Go(func() error { return models.firstBoot(gctx, cfg.Train) })
	default:
		return fmt.Errorf("load model from %s: %w", cfg.Train.ModelDir, err)
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

// byteSize is a flag value of a size in bytes: 1048576, 1MiB, 512KiB.
type byteSize int64

func (b *byteSize) String() string {
	switch n := int64(*b); {
	case n > 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n > 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	default:
		return strconv.FormatInt(n, 10)
	}
}

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
