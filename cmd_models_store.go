package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/registry"
	"github.com/mnistserve/app/train"
)

// modelStore is where a command finds the models: --models, a folder or
// db, and --db, the database when it is db.
type modelStore struct {
	Models string
	DB     string
}

func defaultModelStore() modelStore {
	return modelStore{Models: train.DefaultConfig().ModelDir}
}

// flags declares --models and --db bound to ms.
func (ms *modelStore) flags(fs *FlagSet) {
	modelsFlag(fs, &ms.Models)
	fs.String(&ms.DB, "db", "database (`URL`) of the models with --models db; empty: the SQLite file predictions.db, as serve", Env("DATABASE_URL"))
}

// open opens the registry of ms, warnings to stderr; close closes what
// it opened.
func (ms modelStore) open(ctx context.Context, stderr io.Writer) (*registry.Registry, func() error, error) {
	return openRegistry(ctx, ms.Models, ms.DB, stderr)
}

// openRegistry opens the registry that models (a folder or db) and db
// name, warnings (models that do not load) to stderr.
func openRegistry(ctx context.Context, models, db string, stderr io.Writer) (*registry.Registry, func() error, error) {
	return registry.Open(ctx, models, db, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// predictor loads the served model of ms.
func (ms modelStore) predictor(ctx context.Context, stderr io.Writer) (*model.Predictor, error) {
	reg, closeReg, err := ms.open(ctx, stderr)
	if err != nil {
		return nil, err
	}
	defer closeReg()
	p, err := reg.Predictor(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w (train one with `app train`)", err)
	}
	return p, nil
}

// copyModels runs `app models import DIR` (from the folder DIR into reg)
// or `app models export DIR` (from reg into the folder DIR).
func copyModels(ctx context.Context, action, dir string, reg *registry.Registry, stdout, stderr io.Writer) error {
	folder := registry.New(registry.NewFolder(dir), slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	from, to := folder, reg
	if action == "export" {
		from, to = reg, folder
	}
	if from.String() == to.String() {
		return fmt.Errorf("%s %s: the models are there already (choose the other store with --models)", action, dir)
	}
	if action == "import" {
		// The folder store reads a missing folder as one with no models
		// (a first boot creates it); a folder to import from must exist,
		// or a mistyped path would import nothing and report success.
		if st, err := os.Stat(dir); err != nil {
			return fmt.Errorf("import %s: %w", dir, err)
		} else if !st.IsDir() {
			return fmt.Errorf("import %s: not a directory", dir)
		}
	}
	c, err := registry.Copy(ctx, from, to)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied %d models from the %s to the %s (%d there already)\n", len(c.Copied), from, to, len(c.Present))
	if c.Pinned != "" {
		fmt.Fprintf(stdout, "pinned %s there, as in the %s\n", c.Pinned, from)
	}
	return nil
}
