package train

import (
	"sync"

	"github.com/mnistserve/app/mnist"
)

// batch is one step's images (as the network reads them) and labels.
type batch struct {
	x   []float32
	lbl []byte
}

// batches prepares an epoch's batches one step ahead of the training
// loop, on a goroutine of its own: while step s runs, batch s+1 is read
// from the set and augmented. A step leaves a core idle for part of its
// time (its serial parts: the small layers, the loss, Adam), and the
// augmentation fits there instead of being paid for between steps. Each
// image's change is drawn from its own generator (imageRand), so what a
// batch holds does not depend on when or where it is made.
type batches struct {
	ready chan *batch // filled batches, in step order
	free  chan *batch // batches the loop is done with
	done  chan struct{}
	wg    sync.WaitGroup
}

// prefetch starts preparing the steps batches of an epoch of set in order
// (step s takes order[s*b ...], wrapping round), augmented when augment is
// set. The caller takes them with next and must call stop.
func prefetch(set *mnist.Set, order []int, b, steps int, augment bool, seed int64, epoch int) *batches {
	p := &batches{
		ready: make(chan *batch, 1),
		free:  make(chan *batch, 2),
		done:  make(chan struct{}),
	}
	for range 2 {
		p.free <- &batch{x: make([]float32, b*mnist.Pixels), lbl: make([]byte, b)}
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		n := set.Len()
		idx := make([]int, b)
		var g *augmenter
		if augment {
			g = newAugmenter()
		}
		for s := range steps {
			var bt *batch
			select {
			case bt = <-p.free:
			case <-p.done:
				return
			}
			for i := range idx {
				idx[i] = order[(s*b+i)%n]
			}
			set.Fill(idx, bt.x, bt.lbl)
			if g != nil {
				augmentBatch(bt.x, bt.lbl, b, seed, epoch, s, []*augmenter{g})
			}
			select {
			case p.ready <- bt:
			case <-p.done:
				return
			}
		}
	}()
	return p
}

// next copies the next batch into x and labels (the trainer's input).
func (p *batches) next(x, labels []float32) {
	bt := <-p.ready
	copy(x, bt.x)
	for i, l := range bt.lbl {
		labels[i] = float32(l)
	}
	p.free <- bt
}

// stop ends the preparing goroutine and waits for it.
func (p *batches) stop() {
	close(p.done)
	p.wg.Wait()
}
