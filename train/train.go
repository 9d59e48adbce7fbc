package train

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/mnistserve/app/internal/kernels"
	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/robust"
)

// Run trains a model with cfg, reporting progress through hooks, and saves
// it in cfg.ModelDir. It returns the metadata of the saved model.
// Cancelling ctx stops it between two steps, saving nothing.
func Run(ctx context.Context, cfg Config, hooks Hooks) (model.Meta, error) {
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
	fb, repeats := cfg.Feedback, 0
	if size(fb) > 0 {
		repeats = feedbackRepeats(trainSet.Len(), fb.Len())
		trainSet = withFeedback(trainSet, fb, repeats)
	}
	w := model.NewWeights(uint64(cfg.Seed))
	if cfg.From != nil {
		w = cfg.From // trained in place: the caller loaded it for this run
	}
	tr, err := model.NewTrainer(w, cfg.Batch, cfg.LR, uint64(cfg.Seed), cfg.Workers)
	if err != nil {
		return model.Meta{}, err
	}
	defer tr.Close()
	hooks.start(Start{
		Config:      cfg,
		TrainImages: trainSet.Len(), ValImages: valSet.Len(), TestImages: test.Len(),
		Workers: tr.Workers(), Kernels: kernels.Accelerated(),
		FeedbackImages: size(fb), FeedbackRepeats: repeats, FeedbackHeldOut: size(cfg.FeedbackHeldOut),
	})
	save := cfg.Save
	if save == nil {
		save = func(w *model.Weights, m model.Meta) (model.Meta, error) { return model.Save(cfg.ModelDir, w, m) }
	}
	// meta is what every model this run saves says of it.
	meta := func(epochs int, trainSeconds, testAcc, valAcc float64) model.Meta {
		return model.Meta{
			CreatedAt:    time.Now().UTC(),
			Epochs:       epochs,
			TrainImages:  trainSet.Len(),
			TrainSeconds: round(trainSeconds, 2),
			TestAccuracy: round(testAcc, 4),
			ValAccuracy:  round(valAcc, 4),
			BatchSize:    cfg.Batch,
			LearningRate: cfg.LR,
			Seed:         cfg.Seed,

			ParentVersion:   cfg.FromVersion,
			FeedbackImages:  size(fb),
			FeedbackHeldOut: size(cfg.FeedbackHeldOut),
			Augment:         cfg.Augment,
		}
	}
	var last EpochStats
	var trainSeconds, checkpointed float64
	var history []model.EpochRecord
	var sets *pendingSets
	defer func() { sets.stop() }()
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		if cfg.Robustness && epoch == cfg.Epochs {
			sets = buildSets(ctx, test)
		}
		stats, err := runEpoch(ctx, tr, trainSet, cfg, epoch, hooks)
		if err != nil {
			return model.Meta{}, err
		}
		trainSeconds += stats.Seconds
		if valSet.Len() > 0 {
			// A predictor copies the weights: a new one sees this epoch's.
			eval := model.NewPredictor(w, model.Meta{})
			stats.ValAcc, err = Accuracy(ctx, eval, valSet)
			eval.Close()
			if err != nil {
				return model.Meta{}, err
			}
		}
		// A collection between epochs (a few ms) makes the reading show
		// live memory: otherwise the garbage of ~400 steps piles up to
		// the GC's target and the epoch lines seem to grow.
		runtime.GC()
		stats.RSSBytes = residentBytes()
		hooks.epoch(stats)
		history = append(history, epochRecord(stats))
		last = stats
		if cfg.CheckpointAt > 0 && epoch < cfg.Epochs && stats.ValAcc >= cfg.CheckpointAt && stats.ValAcc > checkpointed {
			m, err := checkpoint(ctx, w, test, save, meta(epoch, trainSeconds, 0, stats.ValAcc), cfg.Epochs)
			if err != nil {
				return m, err
			}
			checkpointed = stats.ValAcc
			hooks.checkpoint(m)
		}
	}

	eval := model.NewPredictor(w, model.Meta{})
	defer eval.Close()
	cm, err := Confusion(ctx, eval, test)
	if err != nil {
		return model.Meta{}, err
	}
	var fbAcc *float64
	if size(cfg.FeedbackHeldOut) > 0 {
		a, err := Accuracy(ctx, eval, cfg.FeedbackHeldOut)
		if err != nil {
			return model.Meta{}, err
		}
		a = round(a, 4)
		fbAcc = &a
	}
	var robustness *model.Robustness
	if cfg.Robustness {
		built, err := sets.wait()
		if err != nil {
			return model.Meta{}, err
		}
		scores, err := robust.Score(ctx, eval, built)
		if err != nil {
			return model.Meta{}, err
		}
		robustness = robust.Summary(scores)
	}
	final := meta(cfg.Epochs, trainSeconds, cm.Accuracy(), last.ValAcc)
	final.FeedbackAccuracy = fbAcc
	final.Robustness = robustness
	final.History = history
	final.TestConfusion = (*model.Confusion)(cm)
	saved, err := save(w, final)
	if err != nil {
		return saved, fmt.Errorf("save model: %w", err)
	}
	hooks.end(Result{Meta: saved, Dir: cfg.ModelDir, Test: cm, TestImages: test.Len(), Elapsed: time.Since(start)})
	return saved, nil
}

// checkpoint saves w as a checkpoint of a run of epochs, its test accuracy
// measured first (about half a second): a served checkpoint's metadata
// says what every model's does.
func checkpoint(ctx context.Context, w *model.Weights, test *mnist.Set, save func(*model.Weights, model.Meta) (model.Meta, error), m model.Meta, epochs int) (model.Meta, error) {
	eval := model.NewPredictor(w, model.Meta{})
	acc, err := Accuracy(ctx, eval, test)
	eval.Close()
	if err != nil {
		return m, err
	}
	m.TestAccuracy = round(acc, 4)
	m.Checkpoint = &model.Checkpoint{Epoch: m.Epochs, Epochs: epochs}
	saved, err := save(w, m)
	if err != nil {
		return saved, fmt.Errorf("save checkpoint of epoch %d: %w", m.Epochs, err)
	}
	return saved, nil
}

// runEpoch runs one pass over set in a seeded order. The last batch is
// topped up from the start of the order, so every step has a full batch.
func runEpoch(ctx context.Context, tr *model.Trainer, set *mnist.Set, cfg Config, epoch int, hooks Hooks) (EpochStats, error) {
	n, b := set.Len(), tr.Batch()
	order := mnist.Permutation(n, uint64(cfg.Seed)*1000003+uint64(epoch))
	steps := stepsPerEpoch(n, b)
	x, labels := tr.Input()
	pre := prefetch(set, order, b, steps, cfg.Augment, cfg.Seed, epoch)
	defer pre.stop()

	var lossSum, lr float64
	var correct, seen int
	start := time.Now()
	for s := 0; s < steps; s++ {
		if err := ctx.Err(); err != nil {
			return EpochStats{}, fmt.Errorf("training stopped: %w", err)
		}
		pre.next(x, labels)
		lr = cfg.rate(epoch-1, s, steps)
		tr.SetLR(lr)
		loss, c, err := tr.Step()
		if err != nil {
			return EpochStats{}, err
		}
		lossSum += float64(loss)
		correct += c
		seen += b
		hooks.step(Step{Epoch: epoch, Epochs: cfg.Epochs, Step: s + 1, Steps: steps, Loss: loss})
	}
	secs := time.Since(start).Seconds()
	return EpochStats{
		Epoch: epoch, Epochs: cfg.Epochs,
		Loss:         lossSum / float64(steps),
		TrainAcc:     float64(correct) / float64(seen),
		LR:           lr,
		Seconds:      secs,
		ImagesPerSec: float64(seen) / secs,
	}, nil
}

// stepsPerEpoch is the number of steps of an epoch over n images in
// batches of b: the last one topped up to a full batch.
func stepsPerEpoch(n, b int) int { return (n + b - 1) / b }

// epochRecord is the part of an epoch's stats kept in the model's
// metadata, rounded as the epoch line prints it.
func epochRecord(s EpochStats) model.EpochRecord {
	return model.EpochRecord{
		Epoch:         s.Epoch,
		Loss:          round(s.Loss, 4),
		TrainAccuracy: round(s.TrainAcc, 4),
		ValAccuracy:   round(s.ValAcc, 4),
		Seconds:       round(s.Seconds, 2),
	}
}

// round rounds v to the given number of decimal places.
func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}
