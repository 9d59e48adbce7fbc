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

// modelKeeper owns the predictor `app serve` serves: the pinned model of
// the folder, or else the newest valid one. It swaps in another when the
// pin moves or a newer model appears (trained by `app train`, or by another
// replica sharing the folder), closing the one swapped out, and closes the
// last when the server stops.
type modelKeeper struct {
	dir    string
	srv    *serve.Server
	logger *slog.Logger

	mu      sync.Mutex
	current *model.Predictor
	refused map[string]string // version -> why it did not load, logged once
}

func newModelKeeper(dir string, srv *serve.Server, logger *slog.Logger) *modelKeeper {
	return &modelKeeper{dir: dir, srv: srv, logger: logger, refused: make(map[string]string)}
}

// loaded reports whether a model is being served.
func (k *modelKeeper) loaded() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.current != nil
}

// load serves the model the folder names (the pinned one, else the newest)
// when it is not served already. When that one does not load it is tried
// again at the next call (its weights may still be arriving) and, while
// nothing is served yet, the newest valid model is served meanwhile. The
// error wraps model.ErrNoModel when the folder has no valid model at all.
func (k *modelKeeper) load() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	target, pinned, err := model.Target(k.dir)
	if err != nil {
		k.refuse("the pin file", false, err)
		return err
	}
	if k.current != nil && k.current.Version() == target {
		return nil
	}
	var w *model.Weights
	var meta model.Meta
	if target != "" {
		w, meta, err = model.LoadVersion(k.dir, target)
	} else {
		err = fmt.Errorf("%w in %s", model.ErrNoModel, k.dir)
	}
	if err != nil {
		k.refuse(target, pinned, err)
		if k.current != nil {
			return fmt.Errorf("model %s did not load: %w", target, err)
		}
		if w, meta, err = model.LoadLatest(k.dir, k.logger); err != nil {
			return err
		}
		k.logger.Warn("the model the folder names did not load; serving the newest valid one meanwhile",
			"wanted", target, "serving", meta.Version)
	}
	delete(k.refused, meta.Version)
	if k.current != nil && k.current.Version() == meta.Version {
		return nil
	}
	k.swap(model.NewPredictor(w, meta), pinned && meta.Version == target)
	return nil
}

// refuse logs, once per version and reason, that a model did not load.
func (k *modelKeeper) refuse(version string, pinned bool, err error) {
	if version == "" || k.refused[version] == err.Error() {
		return
	}
	k.refused[version] = err.Error()
	k.logger.Warn("model did not load; will try again", "version", version, "pinned", pinned, "error", err)
}

// swap serves p and closes the predictor it replaces: requests already
// running finish with the old one, which then frees its machines, so no
// swap keeps a model alive.
func (k *modelKeeper) swap(p *model.Predictor, pinned bool) {
	old := k.current
	k.current = p
	k.srv.SetModel(p)
	if old != nil {
		old.Close()
	}
	m := p.Meta()
	k.logger.Info("serving model", "version", m.Version, "pinned", pinned, "test_accuracy", m.TestAccuracy, "dir", k.dir)
}

// watch follows the folder every interval until ctx is done: a moved pin
// or a newer model is served within one interval.
func (k *modelKeeper) watch(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !k.loaded() {
			continue // first boot loads the first model itself
		}
		_ = k.load() // a model that does not load is logged once and tried again next time
	}
}

// Models returns the valid models of the folder, newest first, and the
// pinned version ("" when none): the model list of GET /models.
func (k *modelKeeper) Models() ([]model.Meta, string, error) {
	pin, err := model.ReadPin(k.dir)
	return model.List(k.dir), pin.Version, err
}

// Promote pins version for every server sharing the folder and serves it
// here at once; the others follow within their watch interval.
func (k *modelKeeper) Promote(version string) error {
	if _, err := model.Promote(k.dir, version); err != nil {
		return err
	}
	return k.load()
}

// Rollback pins the model served before the last promote and serves it
// here at once, returning its version.
func (k *modelKeeper) Rollback() (string, error) {
	pin, err := model.Rollback(k.dir)
	if err != nil {
		return "", err
	}
	return pin.Version, k.load()
}

// close closes the served predictor. Requests must have finished.
func (k *modelKeeper) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.current != nil {
		k.current.Close()
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
