package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// SetLabel records that prediction id shows digit label (0..9) and returns
// the updated row. Setting the label a row already has changes nothing, so
// labelled_at keeps the time it was first given that label. The error wraps
// ErrNotFound for an unknown id.
func (s *Store) SetLabel(ctx context.Context, id int64, label int) (*Prediction, error) {
	if label < 0 || label > 9 {
		return nil, fmt.Errorf("label prediction %d: label %d is not a digit 0..9", id, label)
	}
	now := s.db.NowFunc()
	return s.updateLabel(ctx, id, fmt.Sprintf("label prediction %d", id), map[string]any{
		"label": label,
		// NULL = label is NULL, so an unlabelled row takes the new time.
		"labelled_at": gorm.Expr("CASE WHEN label = ? THEN labelled_at ELSE ? END", label, now),
	})
}

// ClearLabel removes the label of prediction id and returns the updated
// row; the error wraps ErrNotFound for an unknown id.
func (s *Store) ClearLabel(ctx context.Context, id int64) (*Prediction, error) {
	return s.updateLabel(ctx, id, fmt.Sprintf("clear label of prediction %d", id), map[string]any{
		"label":       nil,
		"labelled_at": nil,
	})
}

// updateLabel applies set to row id and reads the row back.
func (s *Store) updateLabel(ctx context.Context, id int64, op string, set map[string]any) (*Prediction, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res := s.db.WithContext(ctx).Model(&Prediction{}).Where("id = ?", id).Updates(set)
	if res.Error != nil {
		return nil, wrap(ctx, op, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return s.Get(ctx, id)
}

// Live is how a model fares on the predictions users labelled.
type Live struct {
	Labelled int64 // its predictions that carry a label
	Correct  int64 // of those, the ones whose label is its prediction
}

// Accuracy returns Correct/Labelled, or nil when nothing is labelled.
func (l Live) Accuracy() *float64 {
	if l.Labelled == 0 {
		return nil
	}
	a := float64(l.Correct) / float64(l.Labelled)
	return &a
}

// LiveAccuracy counts, for each model version, its labelled predictions
// and how many of them were right.
func (s *Store) LiveAccuracy(ctx context.Context) (map[string]Live, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var rows []struct {
		ModelVersion string
		Labelled     int64
		Correct      int64
	}
	err := s.db.WithContext(ctx).Model(&Prediction{}).
		Select("model_version, COUNT(*) AS labelled, SUM(CASE WHEN label = prediction THEN 1 ELSE 0 END) AS correct").
		Where("label IS NOT NULL").Group("model_version").Scan(&rows).Error
	if err != nil {
		return nil, wrap(ctx, "count labelled predictions", err)
	}
	out := make(map[string]Live, len(rows))
	for _, r := range rows {
		out[r.ModelVersion] = Live{Labelled: r.Labelled, Correct: r.Correct}
	}
	return out, nil
}

// Example is one labelled image, for training on feedback.
type Example struct {
	ID    int64
	Image []byte // 784 pixel bytes, row by row
	Label int
}

// Labelled returns every labelled image with its label, by id. The rows
// are read a page at a time so a big table never holds one long query.
func (s *Store) Labelled(ctx context.Context) ([]Example, error) {
	const page = 1000
	var out []Example
	var after int64
	for {
		qctx, cancel := s.withTimeout(ctx)
		var rows []Prediction
		err := s.db.WithContext(qctx).Select("id", "image", "label").
			Where("label IS NOT NULL AND id > ?", after).Order("id").Limit(page).Find(&rows).Error
		cancel()
		if err != nil {
			return nil, wrap(qctx, "read labelled predictions", err)
		}
		for _, r := range rows {
			out = append(out, Example{ID: r.ID, Image: r.Image, Label: *r.Label})
		}
		if len(rows) < page {
			return out, nil
		}
		after = rows[len(rows)-1].ID
	}
}
