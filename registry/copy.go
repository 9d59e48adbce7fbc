package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/mnistserve/app/model"
)

// Copied is what Copy did.
type Copied struct {
	Copied  []string // versions copied
	Present []string // versions the destination held already, same weights
	Pinned  string   // the pin carried over as a hold; "" when none
}

// Copy copies every valid model of from that to lacks, keeping its version
// and metadata, oldest first (so that to's newest stays from's newest);
// and, when from has a pin and to has none, pins the same version in to as
// a hold. A version that to holds with other weights is an error: a
// version names one model only.
func Copy(ctx context.Context, from, to *Registry) (Copied, error) {
	var c Copied
	metas, err := from.List(ctx)
	if err != nil {
		return c, err
	}
	for i := len(metas) - 1; i >= 0; i-- {
		v := metas[i].Version
		w, meta, err := from.Load(ctx, v)
		if err != nil {
			return c, fmt.Errorf("read %s from the %s: %w", v, from, err)
		}
		_, err = to.Save(ctx, w, meta)
		if errors.Is(err, model.ErrVersionTaken) {
			if _, theirs, lerr := to.Load(ctx, v); lerr == nil && theirs.WeightsSHA256 == meta.WeightsSHA256 {
				c.Present = append(c.Present, v)
				continue
			}
			return c, fmt.Errorf("the %s holds another model under version %s: %w", to, v, err)
		}
		if err != nil {
			return c, fmt.Errorf("copy %s to the %s: %w", v, to, err)
		}
		c.Copied = append(c.Copied, v)
	}
	src, err := from.ReadPin(ctx)
	if err != nil || src.Version == "" {
		return c, err
	}
	dst, err := to.ReadPin(ctx)
	if err != nil || dst.Version != "" {
		return c, err
	}
	if _, err := to.Hold(ctx, src.Version); err != nil {
		return c, fmt.Errorf("carry the pin over: %w", err)
	}
	c.Pinned = src.Version
	return c, nil
}
