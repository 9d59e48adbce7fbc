package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/registry"
)

func TestVersionLoaderLoadsTheModelAPredictionNames(t *testing.T) {
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
	k := versionLoader{reg}

	for _, want := range []string{old.Version, newer.Version} {
		t.Run("version "+want+" loads as itself", func(t *testing.T) {
			m, err := k.LoadVersion(ctx, want)
			if err != nil {
				t.Fatal(err)
			}
			defer m.(*model.Predictor).Close()
			if got := m.Meta().Version; got != want {
				t.Fatalf("loaded %q, want %q", got, want)
			}
		})
	}
	t.Run("an unknown version is ErrUnknownVersion", func(t *testing.T) {
		if _, err := k.LoadVersion(ctx, "19990101T000000.000Z"); !errors.Is(err, model.ErrUnknownVersion) {
			t.Fatalf("got %v, want ErrUnknownVersion", err)
		}
	})
}
