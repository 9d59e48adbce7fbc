package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/train"
)

// modelKeeper owns the predictors `app serve` loads: it hands the newest
// valid model of the folder to the server, swapping in newer ones as they
// appear (a model trained by `app train`, or by another replica sharing
// the folder), and closes them all when the server stops.
type modelKeeper struct {
	dir    string
	srv    *serve.Server
	logger *slog.Logger

	mu      sync.Mutex
	current *model.Predictor
	retired []*model.Predictor
	tried   string // the newest version last looked at, loaded or refused
}

func newModelKeeper(dir string, srv *serve.Server, logger *slog.Logger) *modelKeeper {
	return &modelKeeper{dir: dir, srv: srv, logger: logger}
}

// loaded reports whether a model is being served.
func (k *modelKeeper) loaded() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.current != nil
}

// load serves the newest valid model of the folder when it is not the one
// served already. The error wraps model.ErrNoModel when there is none.
func (k *modelKeeper) load() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.tried = model.NewestVersion(k.dir)
	p, err := model.LoadPredictor(k.dir, k.logger)
	if err != nil {
		return err
	}
	if p.Version() != k.tried {
		k.logger.Warn("the newest model in the folder did not load; serving an older one",
			"newest", k.tried, "serving", p.Version())
	}
	if k.current != nil && p.Version() == k.current.Version() {
		p.Close()
		return nil
	}
	if k.current != nil {
		// Requests may still be using it: close it with the others at exit.
		k.retired = append(k.retired, k.current)
	}
	k.current = p
	k.srv.SetModel(p)
	return nil
}

// changed reports whether the folder's newest metadata names a version
// other than the one last looked at: a cheap check, weights unread.
func (k *modelKeeper) changed() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return model.NewestVersion(k.dir) != k.tried
}

// watch looks for a newer model every interval until ctx is done.
func (k *modelKeeper) watch(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !k.loaded() || !k.changed() {
			continue // first boot loads the first model itself
		}
		if err := k.load(); err != nil {
			k.logger.Warn("a newer model did not load; still serving the current one", "error", err)
		}
	}
}

// close closes every predictor loaded. Requests must have finished.
func (k *modelKeeper) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range append(k.retired, k.current) {
		if p != nil {
			p.Close()
		}
	}
}

// firstBoot gets a first model when the folder has none: it trains one with
// the train defaults, unless another process sharing the folder is training
// already, in which case it waits for that model (and takes over training
// if that process dies). A cancelled ctx (shutdown) is not an error.
func (k *modelKeeper) firstBoot(ctx context.Context, cfg train.Config) error {
	const poll = 5 * time.Second
	for {
		lock, err := model.LockTraining(cfg.ModelDir)
		if err == nil {
			err = k.train(ctx, cfg)
			if rerr := lock.Release(); rerr != nil {
				k.logger.Warn("release training lock", "error", rerr)
			}
			return err
		}
		if !errors.Is(err, model.ErrTrainingElsewhere) {
			return err
		}
		k.logger.Info("another process is training the first model; waiting for it", "detail", err)
		k.srv.SetStatus("another server is training the first model; try again in a few minutes")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
		if err := k.load(); err == nil {
			return nil
		}
	}
}

// train trains a model into the folder and serves it.
func (k *modelKeeper) train(ctx context.Context, cfg train.Config) error {
	if err := k.load(); err == nil {
		return nil // it appeared while we took the lock
	}
	k.logger.Info("no model yet: training one before answering predictions",
		"models", cfg.ModelDir, "data", cfg.DataDir, "epochs", cfg.Epochs)
	k.srv.SetStatus("model is training (first boot, no model saved yet); try again in a few minutes")
	meta, err := train.Run(ctx, cfg, k.trainHooks())
	if ctx.Err() != nil {
		k.logger.Info("first-boot training stopped by shutdown")
		return nil
	}
	if err != nil {
		k.srv.SetStatus(fmt.Sprintf("model training failed: %v", err))
		return fmt.Errorf("first-boot training: %w", err)
	}
	k.logger.Info("first-boot training done", "version", meta.Version, "test_accuracy", meta.TestAccuracy)
	if err := k.load(); err != nil {
		k.srv.SetStatus(fmt.Sprintf("could not load the trained model: %v", err))
		return fmt.Errorf("load the model just trained: %w", err)
	}
	return nil
}

// trainHooks log each epoch of the first-boot training and keep the
// server's 503 message naming the epoch under way.
func (k *modelKeeper) trainHooks() train.Hooks {
	return train.Hooks{
		OnStart: func(s train.Start) {
			k.logger.Info("training started", "train_images", s.TrainImages, "val_images", s.ValImages,
				"epochs", s.Config.Epochs, "workers", s.Workers, "kernels", s.Kernels)
		},
		OnStep: func(s train.Step) {
			if s.Step == 1 {
				k.srv.SetStatus(fmt.Sprintf("model is training (first boot, epoch %d/%d); try again in a few minutes", s.Epoch, s.Epochs))
			}
		},
		OnEpoch: func(s train.EpochStats) {
			k.logger.Info("training epoch done", "epoch", s.Epoch, "epochs", s.Epochs, "loss", s.Loss,
				"train_acc", s.TrainAcc, "val_acc", s.ValAcc, "seconds", s.Seconds)
		},
	}
}
