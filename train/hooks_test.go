package train

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mnistserve/app/model"
)

func TestPrinterPrintsARunFromItsHooks(t *testing.T) {
	var out bytes.Buffer
	p := Printer(&out)
	cfg := DefaultConfig()
	cfg.LR, cfg.Warmup = 0.004, 0.1
	p.OnStart(Start{Config: cfg, TrainImages: 540, ValImages: 60, TestImages: 100, Workers: 2, Kernels: "portable"})
	for epoch := 1; epoch <= 2; epoch++ {
		for step := 1; step <= 8; step++ {
			p.OnStep(Step{Epoch: epoch, Epochs: 2, Step: step, Steps: 8})
		}
		p.OnEpoch(EpochStats{Epoch: epoch, Epochs: 2, Loss: 0.5, TrainAcc: 0.8, ValAcc: 0.85, Seconds: 1, ImagesPerSec: 540})
	}
	var cm ConfusionMatrix
	cm[7][7], cm[7][1] = 3, 1
	p.OnEnd(Result{Meta: model.Meta{Version: "v1"}, Dir: "models", Test: &cm, TestImages: 4, Elapsed: 3 * time.Second})
	for _, want := range []string{
		"training on 540 images, validating on 60, testing on 100 (15 epochs, batch 128, lr 0.004, seed 1; 2 workers, portable kernels)\n",
		"learning rate: one cycle, up from 0.0004 to 0.004 over the first 1.5 epochs, then a cosine down to 4e-05\n",
		"augment: a random rotation",
		"epoch 1/2: 2/8 steps (25%)\n", "epoch 2/2: 6/8 steps (75%)\n",
		"epoch 1/2: loss 0.5000  train_acc 0.8000  val_acc 0.8500  1.0s  540 images/s\n",
		"epoch 2/2: loss 0.5000",
		"test accuracy 0.7500 on 4 images\nconfusion matrix",
		"saved model v1 in models (3s in all)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
