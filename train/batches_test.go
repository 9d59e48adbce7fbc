package train

import (
	"testing"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/mnist"
)

func TestPrefetchGivesEachStepTheBatchFilledAndAugmentedInPlace(t *testing.T) {
	_, test, err := mnist.Load(testutil.MNISTFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	const b, steps = 16, 5
	n := test.Len()
	order := mnist.Permutation(n, 9)
	for _, augment := range []bool{false, true} {
		pre := prefetch(test, order, b, steps, augment, 3, 2)
		x, labels := make([]float32, b*mnist.Pixels), make([]float32, b)
		for s := range steps {
			pre.next(x, labels)
			idx := make([]int, b)
			for i := range idx {
				idx[i] = order[(s*b+i)%n]
			}
			want, lbl := make([]float32, b*mnist.Pixels), make([]byte, b)
			test.Fill(idx, want, lbl)
			if augment {
				augmentBatch(want, lbl, b, 3, 2, s, []*augmenter{newAugmenter(), newAugmenter()})
			}
			for i := range want {
				if x[i] != want[i] {
					t.Fatalf("augment %v, step %d: pixel %d is %v, filled in place %v", augment, s, i, x[i], want[i])
				}
			}
			for i, l := range lbl {
				if labels[i] != float32(l) {
					t.Fatalf("augment %v, step %d: label %d is %v, want %d", augment, s, i, labels[i], l)
				}
			}
		}
		pre.stop()
	}
	// Stopped after one of many steps, it returns at once: stop waits for
	// the goroutine, which must not be left blocked on a full queue.
	pre := prefetch(test, order, b, 1000, true, 1, 1)
	pre.next(make([]float32, b*mnist.Pixels), make([]float32, b))
	pre.stop()
}
