package store

import (
	"context"
	"log/slog"
	"time"
)

// RetainBatch is how many rows one retention statement deletes: small, so
// each statement holds its locks only briefly beside the predict inserts.
const RetainBatch = 500

// Retain deletes the predictions older than age, images included, now and
// then every interval (age/10, between a second and a minute), until ctx is
// done. It deletes in batches of RetainBatch, pausing between them. A
// database error is logged to logger and retried at the next round.
func (s *Store) Retain(ctx context.Context, age time.Duration, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	interval := min(max(age/10, time.Second), time.Minute)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.prune(ctx, age, logger)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// prune deletes every row older than age, one batch at a time.
func (s *Store) prune(ctx context.Context, age time.Duration, logger *slog.Logger) {
	cutoff := time.Now().Add(-age)
	var total int64
	for ctx.Err() == nil {
		n, err := s.DeleteBefore(ctx, cutoff, RetainBatch)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				logger.Error("retention: delete old predictions", "error", err)
			}
			break
		}
		if n < RetainBatch {
			break
		}
		select { // let the predict routes' writes in between batches
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	if total > 0 {
		logger.Info("retention: deleted old predictions", "rows", total, "older_than", age)
	}
}
