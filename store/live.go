package store

import (
	"context"
	"slices"
	"time"
)

// Outcome is one labelled prediction: when it was made and whether its
// label agrees with it.
type Outcome struct {
	CreatedAt time.Time
	Correct   bool
}

// Outcomes returns the newest limit labelled predictions of model
// version, oldest first, for live accuracy over time. Only three small
// columns of the labelled rows are read (the partial index on label finds
// them), never an image.
func (s *Store) Outcomes(ctx context.Context, version string, limit int) ([]Outcome, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var rows []struct {
		CreatedAt  time.Time
		Prediction int
		Label      int
	}
	err := s.db.WithContext(ctx).Model(&Prediction{}).Select("created_at", "prediction", "label").
		Where("label IS NOT NULL AND model_version = ?", version).
		Order("created_at DESC, id DESC").Limit(limit).Scan(&rows).Error
	if err != nil {
		return nil, wrap(ctx, "read labelled predictions of "+version, err)
	}
	out := make([]Outcome, len(rows))
	for i, r := range rows {
		out[i] = Outcome{CreatedAt: r.CreatedAt.UTC(), Correct: r.Label == r.Prediction}
	}
	slices.Reverse(out)
	return out, nil
}
