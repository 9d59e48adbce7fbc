package train

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"time"

	"github.com/mnistserve/app/internal/kernels"
	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
)

// EpochStats is what one epoch of training measured.
type EpochStats struct {
	Epoch, Epochs int
	Loss          float64 // mean training loss
	TrainAcc      float64 // accuracy on the training batches, with dropout
	ValAcc        float64 // accuracy on the held-out 10%
	Seconds       float64 // time of the training steps, evaluation excluded
	ImagesPerSec  float64
	RSSBytes      int64 // resident memory after the epoch, when the OS tells
}

func (s EpochStats) String() string {
	line := fmt.Sprintf("epoch %d/%d: loss %.4f  train_acc %.4f  val_acc %.4f  %.1fs  %.0f images/s",
		s.Epoch, s.Epochs, s.Loss, s.TrainAcc, s.ValAcc, s.Seconds, s.ImagesPerSec)
	if s.RSSBytes > 0 {
		line += fmt.Sprintf("  rss %d MiB", s.RSSBytes>>20)
	}
	return line
}

// Run trains a model with cfg, writing progress to out, and saves it in
// cfg.ModelDir. It returns the metadata of the saved model. Cancelling ctx
// stops it between two steps, saving nothing.
func Run(ctx context.Context, cfg Config, out io.Writer) (model.Meta, error) {
	if err := cfg.Validate(); err != nil {
		return model.Meta{}, err
	}
	start := time.Now()
	all, test, err := mnist.Load(cfg.DataDir)
	if err != nil {
		return model.Meta{}, err
	}
	if cfg.Limit > 0 && cfg.Limit < all.Len() {
		all = all.Slice(0, cfg.Limit)
	}
	// As Keras's validation_split: the last 10% of the training images.
	trainSet, valSet := all.Split(all.Len() - all.Len()/10)
	if trainSet.Len() == 0 {
		return model.Meta{}, fmt.Errorf("limit %d leaves no training images: %w", cfg.Limit, ErrConfig)
	}
	workers := cfg.Workers
	if workers == 0 {
		workers = kernels.Workers()
	}
	fmt.Fprintf(out, "training on %d images, validating on %d, testing on %d (%d epochs, batch %d, lr %g, seed %d; %d workers, %s kernels)\n",
		trainSet.Len(), valSet.Len(), test.Len(), cfg.Epochs, cfg.Batch, cfg.LR, cfg.Seed, workers, kernels.Accelerated())
	w := model.NewWeights(uint64(cfg.Seed))
	tr, err := model.NewTrainer(w, cfg.Batch, cfg.LR, uint64(cfg.Seed), workers)
	if err != nil {
		return model.Meta{}, err
	}
	defer tr.Close()
	eval := model.NewPredictor(w, model.Meta{})
	defer eval.Close()

	var last EpochStats
	var trainSeconds float64
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		stats, err := runEpoch(ctx, tr, trainSet, cfg, epoch, out)
		if err != nil {
			return model.Meta{}, err
		}
		trainSeconds += stats.Seconds
		if valSet.Len() > 0 {
			if stats.ValAcc, err = Accuracy(ctx, eval, valSet); err != nil {
				return model.Meta{}, err
			}
		}
		// A collection between epochs (a few ms) makes the reading show
		// live memory: otherwise the garbage of ~400 steps piles up to
		// the GC's target and the epoch lines seem to grow.
		runtime.GC()
		stats.RSSBytes = residentBytes()
		fmt.Fprintln(out, stats)
		last = stats
	}

	cm, err := Confusion(ctx, eval, test)
	if err != nil {
		return model.Meta{}, err
	}
	fmt.Fprintf(out, "test accuracy %.4f on %d images\n%s", cm.Accuracy(), test.Len(), cm)
	meta, err := model.Save(cfg.ModelDir, w, model.Meta{
		CreatedAt:    time.Now().UTC(),
		Epochs:       cfg.Epochs,
		TrainImages:  trainSet.Len(),
		TrainSeconds: round(trainSeconds, 2),
		TestAccuracy: round(cm.Accuracy(), 4),
		ValAccuracy:  round(last.ValAcc, 4),
		BatchSize:    cfg.Batch,
		LearningRate: cfg.LR,
		Seed:         cfg.Seed,
	})
	if err != nil {
		return meta, fmt.Errorf("save model: %w", err)
	}
	fmt.Fprintf(out, "saved model %s in %s (%.0fs in all)\n", meta.Version, cfg.ModelDir, time.Since(start).Seconds())
	return meta, nil
}

// runEpoch runs one pass over set in a seeded order. The last batch is
// topped up from the start of the order, so every step has a full batch.
func runEpoch(ctx context.Context, tr *model.Trainer, set *mnist.Set, cfg Config, epoch int, out io.Writer) (EpochStats, error) {
	n, b := set.Len(), tr.Batch()
	order := mnist.Permutation(n, uint64(cfg.Seed)*1000003+uint64(epoch))
	steps := (n + b - 1) / b
	x, labels := tr.Input()
	idx := make([]int, b)
	lbl := make([]byte, b)
	bar := newProgress(out, steps, fmt.Sprintf("epoch %d/%d", epoch, cfg.Epochs))
	defer bar.Finish()

	var lossSum float64
	var correct, seen int
	start := time.Now()
	for s := 0; s < steps; s++ {
		if err := ctx.Err(); err != nil {
			return EpochStats{}, fmt.Errorf("training stopped: %w", err)
		}
		for i := range idx {
			idx[i] = order[(s*b+i)%n]
		}
		set.Fill(idx, x, lbl)
		for i, l := range lbl {
			labels[i] = float32(l)
		}
		loss, c, err := tr.Step()
		if err != nil {
			return EpochStats{}, err
		}
		lossSum += float64(loss)
		correct += c
		seen += b
		bar.Add(1)
	}
	secs := time.Since(start).Seconds()
	return EpochStats{
		Epoch: epoch, Epochs: cfg.Epochs,
		Loss:         lossSum / float64(steps),
		TrainAcc:     float64(correct) / float64(seen),
		Seconds:      secs,
		ImagesPerSec: float64(seen) / secs,
	}, nil
}

// round rounds v to the given number of decimal places.
func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}
