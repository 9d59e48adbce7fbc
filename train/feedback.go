package train

import (
	"math"

	"github.com/mnistserve/app/mnist"
)

// Labelled is a stored image a user labelled, for training on feedback.
type Labelled struct {
	ID    int64
	Image []byte // 784 pixel bytes, row by row
	Label int
}

// heldOutEvery is the share of feedback held out for scoring: the images
// whose id is a multiple of it (a fifth), so the split is stable as more
// labels arrive and does not depend on their order.
const heldOutEvery = 5

// SplitFeedback returns the labelled images to train on and the fifth held
// out (by id) to score the model on.
func SplitFeedback(ls []Labelled) (train, heldOut *mnist.Set) {
	train, heldOut = &mnist.Set{}, &mnist.Set{}
	for _, l := range ls {
		s := train
		if l.ID%heldOutEvery == 0 {
			s = heldOut
		}
		s.Images = append(s.Images, l.Image...)
		s.Labels = append(s.Labels, byte(l.Label))
	}
	return train, heldOut
}

// feedbackShare is the least share of each epoch that feedback images make
// up: a few hundred corrections among 54,000 MNIST images would barely move
// the weights, so they are repeated up to this share.
const feedbackShare = 0.25

// feedbackRepeats is how many times fb images are repeated among n others.
func feedbackRepeats(n, fb int) int {
	if fb == 0 {
		return 0
	}
	return max(1, int(math.Round(feedbackShare*float64(n)/float64(fb))))
}

// withFeedback returns set followed by fb repeated times, in a new set.
func withFeedback(set, fb *mnist.Set, times int) *mnist.Set {
	out := &mnist.Set{
		Images: make([]byte, 0, len(set.Images)+times*len(fb.Images)),
		Labels: make([]byte, 0, len(set.Labels)+times*len(fb.Labels)),
	}
	out.Images = append(out.Images, set.Images...)
	out.Labels = append(out.Labels, set.Labels...)
	for range times {
		out.Images = append(out.Images, fb.Images...)
		out.Labels = append(out.Labels, fb.Labels...)
	}
	return out
}

// size is the number of images of s; 0 for none.
func size(s *mnist.Set) int {
	if s == nil {
		return 0
	}
	return s.Len()
}
