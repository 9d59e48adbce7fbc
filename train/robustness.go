package train

import (
	"context"

	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/robust"
)

// pendingSets builds the robustness sets on a goroutine of its own while
// the last epoch trains. The sets depend on the test digits and the fonts
// alone, not on the model, and a step leaves a core idle part of the time
// (its serial parts), where the building fits instead of after the run.
// It starts no earlier, so that a first boot's first checkpoint is not
// delayed by it.
type pendingSets struct {
	done   chan struct{}
	cancel context.CancelFunc
	sets   []*robust.Set
	err    error
}

// buildSets starts building the sets from robust.DefaultDigits of test's
// digits and the installed fonts.
func buildSets(ctx context.Context, test *mnist.Set) *pendingSets {
	ctx, cancel := context.WithCancel(ctx)
	p := &pendingSets{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(p.done)
		p.sets, p.err = robust.Build(ctx, test, robust.DefaultDigits, robust.FindFonts(robust.FontDirs...))
	}()
	return p
}

// wait returns the sets once they are built.
func (p *pendingSets) wait() ([]*robust.Set, error) {
	<-p.done
	return p.sets, p.err
}

// stop cancels the building if it is still going and waits for it to end;
// a nil p does nothing, so that a run can defer it before it starts one.
func (p *pendingSets) stop() {
	if p == nil {
		return
	}
	p.cancel()
	<-p.done
}
