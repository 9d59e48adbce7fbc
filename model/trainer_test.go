package model

import (
	"testing"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/mnist"
)

func TestTrainerLearnsMNIST(t *testing.T) {
	train, test, err := mnist.Load(testutil.MNISTDir(t))
	if err != nil {
		t.Fatal(err)
	}
	w := NewWeights(1)
	tr, err := NewTrainer(w, 128, 0.001, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	x, y := tr.Input()
	idx := make([]int, 128)
	lbl := make([]byte, 128)
	perm := mnist.Permutation(train.Len(), 1)
	for step := 0; step < 60; step++ {
		copy(idx, perm[step*128:])
		train.Fill(idx, x, lbl)
		for i, l := range lbl {
			y[i] = float32(l)
		}
		loss, correct, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		if step%10 == 0 {
			t.Logf("step %d loss %.4f correct %d/128", step, loss, correct)
		}
	}
	_ = test
}
