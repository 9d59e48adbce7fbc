package store

import (
	"context"
	"fmt"
	"time"
)

// Delete removes the prediction with the given id, image included; an id
// that is not stored gives an error wrapping ErrNotFound.
func (s *Store) Delete(ctx context.Context, id int64) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res := s.db.WithContext(ctx).Where("id = ?", id).Delete(&Prediction{})
	if res.Error != nil {
		return wrap(ctx, fmt.Sprintf("delete prediction %d", id), res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete prediction %d: %w", id, ErrNotFound)
	}
	return nil
}

// DeleteBefore removes at most batch of the oldest predictions created before
// cutoff and returns how many it removed. Callers loop until it returns
// fewer than batch; small batches keep each statement's locks and undo short,
// so retention never stalls the inserts of the predict routes.
func (s *Store) DeleteBefore(ctx context.Context, cutoff time.Time, batch int) (int64, error) {
	if batch <= 0 {
		return 0, fmt.Errorf("delete old predictions: batch %d must be positive", batch)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	// DELETE ... LIMIT is not portable; a subquery on the primary key is, in
	// both PostgreSQL and SQLite.
	oldest := s.db.Model(&Prediction{}).Select("id").
		Where("created_at < ?", cutoff.UTC()).Order("id").Limit(batch)
	res := s.db.WithContext(ctx).Where("id IN (?)", oldest).Delete(&Prediction{})
	if res.Error != nil {
		return 0, wrap(ctx, "delete old predictions", res.Error)
	}
	return res.RowsAffected, nil
}
