package train

import (
	"fmt"
	"io"
	"time"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/robust"
)

// Hooks receive the progress of a Run as data, in the manner of gomlx's
// train loop: printing (Printer) is one subscriber, the server's first-boot
// status another. Nil hooks are skipped. They run on the training goroutine
// between steps, so they must be quick.
type Hooks struct {
	OnStart func(Start)
	OnStep  func(Step)
	OnEpoch func(EpochStats)
	// OnCheckpoint receives each checkpoint saved (Config.CheckpointAt).
	OnCheckpoint func(model.Meta)
	OnEnd        func(Result)
}

// Start describes a run before its first step.
type Start struct {
	Config                             Config
	TrainImages, ValImages, TestImages int
	Workers                            int    // goroutines per step, the default applied
	Kernels                            string // which kernels run: "AVX-512", "portable", ...
	// FeedbackImages labelled stored images are trained on, each repeated
	// FeedbackRepeats times (counted in TrainImages); FeedbackHeldOut more
	// are scored at the end.
	FeedbackImages, FeedbackRepeats, FeedbackHeldOut int
}

// Step is one training step done.
type Step struct {
	Epoch, Epochs int
	Step, Steps   int // Step counts from 1 to Steps within the epoch
	Loss          float32
}

// EpochStats is what one epoch of training measured.
type EpochStats struct {
	Epoch, Epochs int
	Loss          float64 // mean training loss
	TrainAcc      float64 // accuracy on the training batches, with dropout
	ValAcc        float64 // accuracy on the held-out 10%
	LR            float64 // learning rate of the epoch's last step
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

// Result is a finished run: the saved model and its test results.
type Result struct {
	Meta       model.Meta
	Dir        string // where the model was saved
	Test       *ConfusionMatrix
	TestImages int
	Elapsed    time.Duration // loading, training, evaluation and saving
}

func (h Hooks) start(s Start) {
	if h.OnStart != nil {
		h.OnStart(s)
	}
}

func (h Hooks) checkpoint(m model.Meta) {
	if h.OnCheckpoint != nil {
		h.OnCheckpoint(m)
	}
}

func (h Hooks) step(s Step) {
	if h.OnStep != nil {
		h.OnStep(s)
	}
}

func (h Hooks) epoch(s EpochStats) {
	if h.OnEpoch != nil {
		h.OnEpoch(s)
	}
}

func (h Hooks) end(r Result) {
	if h.OnEnd != nil {
		h.OnEnd(r)
	}
}

// Printer returns hooks that print a run to out: a header, a progress bar
// per epoch on a terminal (a line at each quarter otherwise), one line per
// epoch, then the test accuracy, confusion matrix and where the model went.
func Printer(out io.Writer) Hooks {
	var bar progress
	return Hooks{
		OnStart: func(s Start) {
			c := s.Config
			fmt.Fprintf(out, "training on %d images, validating on %d, testing on %d (%d epochs, batch %d, lr %g, seed %d; %d workers, %s kernels)\n",
				s.TrainImages, s.ValImages, s.TestImages, c.Epochs, c.Batch, c.LR, c.Seed, s.Workers, s.Kernels)
			if c.FromVersion != "" {
				fmt.Fprintf(out, "starting from the weights of model %s\n", c.FromVersion)
			}
			if s.FeedbackImages+s.FeedbackHeldOut > 0 {
				fmt.Fprintf(out, "feedback: %d labelled images trained on (each %d times), %d held out to score\n",
					s.FeedbackImages, s.FeedbackRepeats, s.FeedbackHeldOut)
			}
			if c.Schedule == ScheduleOneCycle {
				steps := stepsPerEpoch(s.TrainImages, c.Batch)
				fmt.Fprintf(out, "learning rate: one cycle, up from %.3g to %.3g over the first %.3g epochs, then a cosine down to %.3g\n",
					c.LR*warmupStart, c.LR, c.warmupSteps(steps)/float64(steps), c.LR*decayEnd)
			}
			if c.Augment {
				fmt.Fprintln(out, "augment: a random rotation, shear, scale and shift per image per epoch; some strokes thicker or thinner, some at low resolution, some 1s with a foot or flag, 4s with a foot and 7s with a bar")
			}
		},
		OnStep: func(s Step) {
			if s.Step == 1 {
				bar = newProgress(out, s.Steps, fmt.Sprintf("epoch %d/%d", s.Epoch, s.Epochs))
			}
			bar.Add(1)
			if s.Step == s.Steps {
				bar.Finish()
			}
		},
		OnEpoch: func(s EpochStats) { fmt.Fprintln(out, s) },
		OnEnd: func(r Result) {
			fmt.Fprintf(out, "test accuracy %.4f on %d images\n%s", r.Test.Accuracy(), r.TestImages, r.Test)
			if r.Meta.Robustness != nil {
				fmt.Fprintln(out, robust.Line(r.Meta.Robustness))
			}
			if a := r.Meta.FeedbackAccuracy; a != nil {
				fmt.Fprintf(out, "held-out feedback accuracy %.4f on %d images\n", *a, r.Meta.FeedbackHeldOut)
			}
			fmt.Fprintf(out, "saved model %s in %s (%.0fs in all)\n", r.Meta.Version, r.Dir, r.Elapsed.Seconds())
		},
	}
}
