package model

import "github.com/mnistserve/app/internal/kernels"

// gradParts is how many fixed parts a batch is cut into for a gradient
// that sums over the batch (the weights' and biases'). Each part is summed
// on its own, by whichever worker runs it, and the parts are then added in
// order, so the float sums, and the trained weights, are the same bit for
// bit on any number of cores. 16 parts keep 16 cores busy.
const gradParts = 16

// partSums sums a gradient over the images of a batch in gradParts fixed
// parts, each into a buffer of its own, then adds the parts in order.
type partSums struct {
	n     int // images in a batch
	team  *kernels.Team
	parts [gradParts][]float32
}

func newPartSums(n, size int, team *kernels.Team) *partSums {
	ps := &partSums{n: n, team: team}
	for i := range ps.parts {
		ps.parts[i] = make([]float32, size)
	}
	return ps
}

// sum writes into out the sum over the batch of what part computes: part
// must overwrite dst with the sum over images lo..hi-1 (zero when the range
// is empty, which happens when the batch is smaller than gradParts). worker
// (below the worker count) tells part which worker runs it, for buffers of
// its own.
func (ps *partSums) sum(out []float32, part func(worker int, dst []float32, lo, hi int)) {
	ps.team.Parallel(gradParts, func(worker, lo, hi int) {
		for p := lo; p < hi; p++ {
			part(worker, ps.parts[p], p*ps.n/gradParts, (p+1)*ps.n/gradParts)
		}
	})
	// The reduction splits over values, never over parts: each value is
	// added up in part order whoever adds it.
	ps.team.Parallel(len(out), func(_, lo, hi int) {
		dst := out[lo:hi]
		copy(dst, ps.parts[0][lo:hi])
		for _, p := range ps.parts[1:] {
			kernels.Add(dst, p[lo:hi])
		}
	})
}
