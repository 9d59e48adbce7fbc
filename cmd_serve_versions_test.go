package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/registry"
)

func TestVersionedKeeperLoadsTheModelAPredictionNames(t *testing.T) {
	ctx := context.Background()
	reg := registry.New(registry.NewFolder(t.TempDir()), nil)
	old, err := reg.Save(ctx, model.NewWeights(1), model.Meta{CreatedAt: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	newer, err := reg.Save(ctx, model.NewWeights(2), model.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	k := &versionedKeeper{Keeper: registry.NewKeeper(reg, func(*model.Predictor) {}, func(string) {}, nil), reg: reg}
	defer k.Close()

	for _, want := range []string{old.Version, newer.Version} {
		t.Run("version "+want+" loads as itself", func(t *testing.T) {
			m, err := k.ModelVersion(ctx, want)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Meta().Version; got != want {
				t.Fatalf("loaded %q, want %q", got, want)
			}
			again, err := k.ModelVersion(ctx, want)
			if err != nil || again != m {
				t.Errorf("asking again loaded another copy (%v)", err)
			}
		})
	}
	t.Run("an unknown version is ErrUnknownVersion", func(t *testing.T) {
		if _, err := k.ModelVersion(ctx, "19990101T000000.000Z"); !errors.Is(err, model.ErrUnknownVersion) {
			t.Fatalf("got %v, want ErrUnknownVersion", err)
		}
	})
}
