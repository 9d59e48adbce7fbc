package train

import (
	"math"
	"testing"
)

func TestOneCycleWarmsUpThenFallsToAHundredth(t *testing.T) {
	c := DefaultConfig()
	c.Epochs, c.LR, c.Schedule, c.Warmup = 10, 0.004, ScheduleOneCycle, 0.1
	const steps = 100 // per epoch: warm-up over the first 100 of 1,000
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if got := c.rate(0, 0, steps); !near(got, 0.0004) {
		t.Errorf("first step %v, want a tenth of lr, 0.0004", got)
	}
	if got := c.rate(0, 50, steps); !near(got, 0.0004+0.5*0.0036) {
		t.Errorf("half-way through the warm-up %v, want half-way up, 0.0022", got)
	}
	if got := c.rate(1, 0, steps); !near(got, 0.004) {
		t.Errorf("end of the warm-up %v, want the peak 0.004", got)
	}
	if got := c.rate(9, 99, steps); !near(got, 0.00004) {
		t.Errorf("last step %v, want a hundredth of lr, 0.00004", got)
	}
	prev := math.Inf(1)
	for e := 1; e < 10; e++ {
		for s := range steps {
			r := c.rate(e, s, steps)
			if r > prev {
				t.Fatalf("epoch %d step %d: %v rose from %v after the warm-up", e, s, r, prev)
			}
			prev = r
		}
	}
	c.Schedule = ScheduleConstant
	if got := c.rate(5, 3, steps); got != c.LR {
		t.Errorf("constant schedule gives %v, want lr %v", got, c.LR)
	}
}

func TestScheduleSettingsAreChecked(t *testing.T) {
	cases := map[string]func(*Config){
		"an unknown schedule":    func(c *Config) { c.Schedule = "cosine-ish" },
		"a negative warm-up":     func(c *Config) { c.Warmup = -0.1 },
		"a warm-up of all steps": func(c *Config) { c.Warmup = 1 },
	}
	for name, mutate := range cases {
		t.Run(name+" is refused", func(t *testing.T) {
			c := DefaultConfig()
			mutate(&c)
			if err := c.Validate(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestWarmupIsAShareOfTheStepsButAtLeastAFifthOfAnEpoch: the default
// share (0.05) warms a 15-epoch run up over 0.75 epoch, a 2-epoch run over
// a fifth of an epoch (not 0.1 epoch), and a warm-up of 0 stays none.
func TestWarmupIsAShareOfTheStepsButAtLeastAFifthOfAnEpoch(t *testing.T) {
	const steps = 400
	for _, tc := range []struct {
		epochs int
		share  float64
		want   float64 // steps of warm-up
	}{
		{15, 0.05, 300}, {2, 0.05, 80}, {2, 0.1, 80}, {1, 0.05, 80}, {10, 0.1, 400}, {2, 0, 0},
	} {
		c := DefaultConfig()
		c.Epochs, c.Warmup = tc.epochs, tc.share
		if got := c.warmupSteps(steps); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%d epochs, share %v: warm-up over %v steps, want %v", tc.epochs, tc.share, got, tc.want)
		}
		if tc.want == 0 {
			continue
		}
		// The peak comes where the warm-up ends.
		end := int(tc.want)
		if got := c.rate(end/steps, end%steps, steps); math.Abs(got-c.LR) > 1e-12 {
			t.Errorf("%d epochs, share %v: rate %v at step %d, want the peak %v", tc.epochs, tc.share, got, end, c.LR)
		}
	}
}
