package registry

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mnistserve/app/store"
)

// InDatabase is the --models value (env MODEL_DIR) that keeps the models in
// the database --db names instead of a folder.
const InDatabase = "db"

// OpenWith returns the registry models names: the database of st when
// models is InDatabase, else the folder models (st unused, may be nil).
func OpenWith(ctx context.Context, models string, st *store.Store, logger *slog.Logger) (*Registry, error) {
	if models != InDatabase {
		return New(NewFolder(models), logger), nil
	}
	if st == nil {
		return nil, fmt.Errorf("--models db needs a database")
	}
	d, err := NewDatabase(ctx, st, logger)
	if err != nil {
		return nil, fmt.Errorf("models in the database: %w", err)
	}
	return New(d, logger), nil
}

// Open is OpenWith for a command that has no store open: for InDatabase it
// opens the database db names (store.Open's URL; "" = the SQLite file),
// which the returned close closes. close is never nil.
func Open(ctx context.Context, models, db string, logger *slog.Logger) (reg *Registry, close func() error, err error) {
	noop := func() error { return nil }
	if models != InDatabase {
		return New(NewFolder(models), logger), noop, nil
	}
	st, err := store.Open(ctx, db, logger)
	if err != nil {
		return nil, noop, fmt.Errorf("models in the database: %w", err)
	}
	reg, err = OpenWith(ctx, models, st, logger)
	if err != nil {
		st.Close()
		return nil, noop, err
	}
	return reg, st.Close, nil
}
