package train

import (
	"fmt"
	"math"
)

// The learning-rate schedules a run may follow (Config.Schedule).
const (
	// ScheduleOneCycle warms the rate up linearly from a tenth of Config.LR
	// to Config.LR over the first Config.Warmup of the steps (at least a
	// fifth of an epoch: minWarmupEpochs), then lets it
	// fall along a half cosine to a hundredth of Config.LR at the last step.
	ScheduleOneCycle = "onecycle"
	// ScheduleConstant keeps Config.LR throughout, as the Keras example.
	ScheduleConstant = "constant"
)

// Shares of Config.LR where a one-cycle schedule starts and ends.
const (
	warmupStart = 0.1
	decayEnd    = 0.01
)

// minWarmupEpochs is the shortest warm-up, in epochs, whatever the share
// Config.Warmup gives: Adam's moment estimates need some tens of steps
// before the peak rate, however short the run. A 15-epoch run warms up
// over its first 0.05 (0.75 epoch, so that a first boot's first epoch
// already reaches the checkpoint's 0.985); a 2-epoch run over this fifth
// of an epoch, as a share of 0.1 gave it before.
const minWarmupEpochs = 0.2

// warmupSteps is the number of steps a one-cycle schedule of steps an
// epoch warms up over: Config.Warmup of them, and at least
// minWarmupEpochs unless Config.Warmup is 0 (no warm-up asked for).
func (c Config) warmupSteps(steps int) float64 {
	warm := c.Warmup * float64(c.Epochs*steps)
	if c.Warmup > 0 {
		warm = max(warm, minWarmupEpochs*float64(steps))
	}
	return warm
}

// rate returns the learning rate of step s (from 0) of the steps of epoch
// e (from 0).
func (c Config) rate(e, s, steps int) float64 {
	if c.Schedule != ScheduleOneCycle {
		return c.LR
	}
	total := float64(c.Epochs * steps)
	t := float64(e*steps + s)
	warm := c.warmupSteps(steps)
	if t < warm {
		return c.LR * (warmupStart + (1-warmupStart)*t/warm)
	}
	done := (t - warm) / max(total-warm-1, 1)
	return c.LR * (decayEnd + (1-decayEnd)*0.5*(1+math.Cos(math.Pi*min(done, 1))))
}

// validSchedule checks the schedule settings.
func (c Config) validSchedule() error {
	switch {
	case c.Schedule != ScheduleOneCycle && c.Schedule != ScheduleConstant:
		return fmt.Errorf("schedule %q: want %s or %s: %w", c.Schedule, ScheduleOneCycle, ScheduleConstant, ErrConfig)
	case !(c.Warmup >= 0 && c.Warmup < 1):
		return fmt.Errorf("warm-up %v: want a share of the steps from 0 to below 1: %w", c.Warmup, ErrConfig)
	}
	return nil
}
