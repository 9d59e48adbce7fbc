package train

import (
	"fmt"
	"math"
)

// The learning-rate schedules a run may follow (Config.Schedule).
const (
	// ScheduleOneCycle warms the rate up linearly from a tenth of Config.LR
	// to Config.LR over the first Config.Warmup of the steps, then lets it
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

// rate returns the learning rate of step s (from 0) of the steps of epoch
// e (from 0).
func (c Config) rate(e, s, steps int) float64 {
	if c.Schedule != ScheduleOneCycle {
		return c.LR
	}
	total := float64(c.Epochs * steps)
	t := float64(e*steps + s)
	warm := c.Warmup * total
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
