package train

import (
	"context"
	"reflect"
	"testing"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/registry"
)

// TestRunPublishesCheckpointsWhileTrainingGoesOn trains four epochs on the
// fixture with a checkpoint bar every epoch passes, and checks that each
// better epoch but the last was saved as a loadable checkpoint, announced
// to its hook, and that the finished model is saved last, unmarked.
func TestRunPublishesCheckpointsWhileTrainingGoesOn(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = testutil.MNISTFixture(t)
	cfg.ModelDir = t.TempDir()
	cfg.Epochs = 4
	cfg.Robustness = false
	cfg.CheckpointAt = 0.01 // any trained epoch reaches it
	var saved, announced []model.Meta
	cfg.Save = func(w *model.Weights, m model.Meta) (model.Meta, error) {
		m, err := model.Save(cfg.ModelDir, w, m)
		saved = append(saved, m)
		return m, err
	}
	final, err := Run(context.Background(), cfg, Hooks{OnCheckpoint: func(m model.Meta) { announced = append(announced, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(saved) < 2 || !reflect.DeepEqual(saved[len(saved)-1], final) {
		t.Fatalf("saved %d models, the last %+v; want checkpoints, then the finished %+v", len(saved), saved[len(saved)-1], final)
	}
	if final.Checkpoint != nil || final.Epochs != cfg.Epochs {
		t.Errorf("the finished model is marked %+v after %d epochs, want no mark after %d", final.Checkpoint, final.Epochs, cfg.Epochs)
	}
	checkpoints := saved[:len(saved)-1]
	if len(announced) != len(checkpoints) {
		t.Fatalf("hook heard of %d checkpoints, %d saved", len(announced), len(checkpoints))
	}
	reg := registry.New(registry.NewFolder(cfg.ModelDir), nil)
	best := 0.0
	for i, m := range checkpoints {
		cp := m.Checkpoint
		switch {
		case cp == nil || cp.Epochs != cfg.Epochs || cp.Epoch != m.Epochs || cp.Epoch >= cfg.Epochs:
			t.Errorf("checkpoint %d is marked %+v after %d epochs, want an epoch before the last of %d", i, cp, m.Epochs, cfg.Epochs)
		case m.ValAccuracy <= best:
			t.Errorf("checkpoint %d has val accuracy %.4f, not above the %.4f published before", i, m.ValAccuracy, best)
		case m.TestAccuracy <= 0 || m.TestAccuracy > 1:
			t.Errorf("checkpoint %d has test accuracy %v", i, m.TestAccuracy)
		case announced[i].Version != m.Version:
			t.Errorf("hook heard of %s as checkpoint %d, %s was saved", announced[i].Version, i, m.Version)
		}
		best = m.ValAccuracy
		if _, _, err := reg.Load(context.Background(), m.Version); err != nil {
			t.Errorf("checkpoint %s does not load: %v", m.Version, err)
		}
	}

	// Without the bar, a run saves only its finished model.
	cfg.CheckpointAt, cfg.Epochs, saved = 0, 2, nil
	if _, err := Run(context.Background(), cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	if len(saved) != 1 || saved[0].Checkpoint != nil {
		t.Errorf("saved %d models without a checkpoint bar, want the finished one alone", len(saved))
	}
}
