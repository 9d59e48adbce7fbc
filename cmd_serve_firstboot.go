package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/registry"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/train"
)

// firstCheckpoint is the validation accuracy at which first boot publishes
// its first checkpoint: a model worth serving while training goes on.
const firstCheckpoint = 0.985

// firstBootTrain returns the training run of first boot: cfg with the train
// defaults, saved through reg (so that, in the database, every replica
// hears of it), its epochs logged and named in the server's 503 reason. It
// publishes a checkpoint once validation accuracy reaches firstCheckpoint,
// then each better one, which this server serves at once and the others
// at their next notice or watch tick, and the finished model last.
func firstBootTrain(cfg train.Config, reg *registry.Registry, models *registry.Keeper, srv *serve.Server, logger *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		cfg.Save = reg.Saver(ctx)
		cfg.CheckpointAt = firstCheckpoint
		logger.Info("first-boot training", "store", reg.String(), "data", cfg.DataDir, "epochs", cfg.Epochs)
		hooks := trainHooks(srv, logger)
		hooks.OnCheckpoint = func(m model.Meta) {
			logger.Info("first-boot checkpoint published; training goes on", "version", m.Version,
				"epoch", m.Checkpoint.Epoch, "epochs", m.Checkpoint.Epochs, "val_acc", m.ValAccuracy, "test_acc", m.TestAccuracy)
			if err := models.Load(ctx); err != nil {
				logger.Warn("serve the first-boot checkpoint", "version", m.Version, "error", err)
			}
		}
		meta, err := train.Run(ctx, cfg, hooks)
		if err == nil {
			logger.Info("first-boot training done", "version", meta.Version, "test_accuracy", meta.TestAccuracy)
		}
		return err
	}
}

// trainHooks log each epoch of the first-boot training and keep the
// server's 503 message naming the epoch under way.
func trainHooks(srv *serve.Server, logger *slog.Logger) train.Hooks {
	return train.Hooks{
		OnStart: func(s train.Start) {
			logger.Info("training started", "train_images", s.TrainImages, "val_images", s.ValImages,
				"epochs", s.Config.Epochs, "workers", s.Workers, "kernels", s.Kernels)
		},
		OnStep: func(s train.Step) {
			if s.Step == 1 {
				srv.SetStatus(fmt.Sprintf("model is training (first boot, epoch %d/%d); try again in a few minutes", s.Epoch, s.Epochs))
			}
		},
		OnEpoch: func(s train.EpochStats) {
			logger.Info("training epoch done", "epoch", s.Epoch, "epochs", s.Epochs, "loss", s.Loss,
				"train_acc", s.TrainAcc, "val_acc", s.ValAcc, "seconds", s.Seconds)
		},
	}
}
