package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"

	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/registry"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/train"
)

// feedbackOptions are the flags of `app train` that close the loop.
type feedbackOptions struct {
	Feedback        bool   // train on the labelled stored predictions too
	From            string // start from this version's weights; "current" = the served one
	PromoteIfBetter bool   // pin the new model if it beats its parent
	DB              string // database of the labelled predictions
}

// maxTestDrop is how far below its parent's the test accuracy of a model
// may be for --promote-if-better to pin it: 0.2 points.
const maxTestDrop = 0.002

// runFeedbackTrain trains with --feedback, --from or --promote-if-better.
func runFeedbackTrain(ctx context.Context, cfg train.Config, reg *registry.Registry, opt feedbackOptions, stdout, stderr io.Writer) error {
	if opt.PromoteIfBetter && !opt.Feedback {
		return fmt.Errorf("--promote-if-better needs --feedback: the held-out feedback is what the new model must do better on")
	}
	if opt.From != "" {
		w, meta, err := reg.LoadOrCurrent(ctx, opt.From)
		if err != nil {
			return fmt.Errorf("--from %s: %w", opt.From, err)
		}
		cfg.From, cfg.FromVersion = w, meta.Version
	}
	if opt.Feedback {
		ls, err := labelledImages(ctx, opt.DB, stderr)
		if err != nil {
			return err
		}
		if len(ls) == 0 {
			return fmt.Errorf("--feedback: the database holds no labelled predictions (label some with PUT /predictions/ID/label)")
		}
		cfg.Feedback, cfg.FeedbackHeldOut = train.SplitFeedback(ls)
	}
	// The parent is judged on the same held-out images, before its weights
	// (cfg.From) are trained in place.
	var parent model.Meta
	var parentFeedback float64
	var held bool
	if opt.PromoteIfBetter {
		from := opt.From
		if from == "" {
			from = "current" // without --from, the new model must beat the served one
		}
		w, meta, err := reg.LoadOrCurrent(ctx, from)
		if err != nil {
			return fmt.Errorf("--promote-if-better: the model to compare with: %w", err)
		}
		parent = meta
		if parentFeedback, err = heldOutAccuracy(ctx, w, cfg.FeedbackHeldOut); err != nil {
			return err
		}
		if held, err = holdServed(ctx, reg, stdout); err != nil {
			return err
		}
	}
	meta, err := train.Run(ctx, cfg, train.Printer(stdout))
	if err != nil {
		if held { // no new model: newest-wins may serve as before
			if _, uerr := reg.Unpin(ctx); uerr != nil {
				return fmt.Errorf("%w; and the hold stays: %v", err, uerr)
			}
		}
		return err
	}
	fmt.Fprintf(stdout, "model %s: test accuracy %.4f\n", meta.Version, meta.TestAccuracy)
	if !opt.PromoteIfBetter {
		return nil
	}
	better, why := isBetter(meta, parent, parentFeedback)
	if !better {
		fmt.Fprintf(stdout, "not promoted: %s\n", why)
		if held {
			fmt.Fprintf(stdout, "the served model stays pinned; `app models unpin` would serve %s as the newest\n", meta.Version)
		}
		return nil
	}
	if _, err := reg.Promote(ctx, meta.Version); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "promoted %s: %s\n", meta.Version, why)
	return nil
}

// holdServed pins the served model when nothing is pinned, so that the
// model about to be trained, the newest in the folder, is not served by
// the newest-wins rule before it is judged; a promote then records the
// held model as the one to roll back to.
// It reports whether it pinned anything.
func holdServed(ctx context.Context, reg *registry.Registry, stdout io.Writer) (bool, error) {
	pin, err := reg.ReadPin(ctx)
	if err != nil || pin.Version != "" {
		return false, err
	}
	served, _, err := reg.Served(ctx)
	if err != nil {
		return false, err
	}
	if _, err := reg.Hold(ctx, served); err != nil {
		return false, err
	}
	fmt.Fprintf(stdout, "pinned the served model %s while training, so the new model is served only if promoted (`app models unpin` undoes it)\n", served)
	return true, nil
}

// isBetter applies the rule of --promote-if-better and says why.
func isBetter(m, parent model.Meta, parentFeedback float64) (bool, string) {
	if m.FeedbackAccuracy == nil {
		return false, "no feedback was held out to score it on (label at least a few more predictions)"
	}
	// Both figures are rounded to 4 places; compare them in those units.
	drop := math.Round((parent.TestAccuracy - m.TestAccuracy) * 1e4)
	fbNew, fbOld := math.Round(*m.FeedbackAccuracy*1e4), math.Round(parentFeedback*1e4)
	figures := fmt.Sprintf("test accuracy %.4f against %.4f for %s; held-out feedback accuracy %.4f against %.4f",
		m.TestAccuracy, parent.TestAccuracy, parent.Version, *m.FeedbackAccuracy, parentFeedback)
	switch {
	case drop > maxTestDrop*1e4:
		return false, fmt.Sprintf("its test accuracy is more than %.1f points below its parent's (%s)", maxTestDrop*100, figures)
	case fbNew <= fbOld:
		return false, fmt.Sprintf("its held-out feedback accuracy is not higher than its parent's (%s)", figures)
	}
	return true, figures
}

// labelledImages reads the labelled stored predictions from db.
func labelledImages(ctx context.Context, db string, stderr io.Writer) ([]train.Labelled, error) {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := store.Open(ctx, db, logger)
	if err != nil {
		return nil, fmt.Errorf("--feedback: %w", err)
	}
	defer st.Close()
	ex, err := st.Labelled(ctx)
	if err != nil {
		return nil, fmt.Errorf("--feedback: %w", err)
	}
	ls := make([]train.Labelled, 0, len(ex))
	for _, e := range ex {
		if len(e.Image) != mnist.Pixels {
			return nil, fmt.Errorf("--feedback: stored prediction %d has %d image bytes, want %d", e.ID, len(e.Image), mnist.Pixels)
		}
		ls = append(ls, train.Labelled{ID: e.ID, Image: e.Image, Label: e.Label})
	}
	return ls, nil
}

// heldOutAccuracy scores weights w on set; 0 for an empty set.
func heldOutAccuracy(ctx context.Context, w *model.Weights, set *mnist.Set) (float64, error) {
	if set == nil || set.Len() == 0 {
		return 0, nil
	}
	p := model.NewPredictor(w, model.Meta{})
	defer p.Close()
	a, err := train.Accuracy(ctx, p, set)
	if err != nil {
		return 0, fmt.Errorf("score the parent on the held-out feedback: %w", err)
	}
	return a, nil
}
