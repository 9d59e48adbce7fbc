package serve

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/store"
)

// Limits of GET /models/:version/live.
const (
	// liveOutcomes is the most labelled predictions one answer counts, the
	// newest: enough for months of labels, little to read.
	liveOutcomes = 100_000
	minBucket    = time.Minute
	maxBucket    = 366 * 24 * time.Hour
	// An answer without ?bucket spreads the labels over fewer than
	// autoBuckets buckets, as narrow as leave about autoLabels labels in
	// each on average: a point of a handful of labels jumps by tens of
	// percent and says little.
	autoBuckets = 48
	autoLabels  = 20
)

// niceBuckets are the widths an answer without ?bucket chooses from.
var niceBuckets = []time.Duration{
	time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour,
	24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour,
}

// livePoint is one bucket of live accuracy: the labelled predictions made
// from Start to Start plus the bucket.
type livePoint struct {
	Start    time.Time `json:"start"`
	Labelled int64     `json:"labelled"`
	Correct  int64     `json:"correct"`
	Accuracy float64   `json:"accuracy"`
}

// liveSeries is the answer of GET /models/:version/live.
type liveSeries struct {
	Version      string   `json:"version"`
	TestAccuracy *float64 `json:"test_accuracy"` // null when the folder no longer holds the model
	// Bucket is the width of each point, as Go writes a duration ("1h0m0s"),
	// and in seconds.
	Bucket        string `json:"bucket"`
	BucketSeconds int64  `json:"bucket_seconds"`
	// Labelled, Correct and Accuracy sum up every point.
	Labelled int64       `json:"labelled"`
	Correct  int64       `json:"correct"`
	Accuracy *float64    `json:"accuracy"` // null while nothing is labelled
	Points   []livePoint `json:"points"`   // oldest first, only buckets with labels
}

// handleModelLive serves GET /models/:version/live?bucket=DURATION: the
// model's accuracy on the predictions users labelled, by the time each
// prediction was made, in buckets of the given width (1m..366 days; by
// default the narrowest that leaves about 20 labels a bucket, in fewer
// than 48 buckets), beside its test accuracy.
func (s *Server) handleModelLive(c echo.Context) error {
	version := c.Param("version")
	if err := checkQuery(c); err != nil {
		return err
	}
	var bucket time.Duration
	if v := c.QueryParam("bucket"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < minBucket || d > maxBucket {
			return badRequest("bucket must be a duration from 1m to 8784h (366 days), such as 15m, 1h or 24h; got %q", v)
		}
		bucket = d
	}
	outcomes, err := s.store.Outcomes(c.Request().Context(), version, liveOutcomes)
	if err != nil {
		return fmt.Errorf("live accuracy of %s: %w", version, err)
	}
	out := liveSeries{Version: version, Points: []livePoint{}}
	known := len(outcomes) > 0
	if cat, err := s.currentCatalog(); err == nil {
		metas, _, err := cat.Models()
		if err != nil {
			return fmt.Errorf("list models: %w", err)
		}
		for _, m := range metas {
			if m.Version == version {
				a := m.TestAccuracy
				out.TestAccuracy, known = &a, true
			}
		}
	}
	if !known {
		return errorf(http.StatusNotFound, "no model with version %q and no labelled prediction of one", version)
	}
	if bucket == 0 {
		bucket = autoBucket(outcomes)
	}
	out.Bucket, out.BucketSeconds = bucket.String(), int64(bucket/time.Second)
	out.Points = buckets(outcomes, bucket)
	for _, p := range out.Points {
		out.Labelled += p.Labelled
		out.Correct += p.Correct
	}
	out.Accuracy = store.Live{Labelled: out.Labelled, Correct: out.Correct}.Accuracy()
	return c.JSON(http.StatusOK, out)
}

// autoBucket is the narrowest nice width that spreads outcomes (oldest
// first) over fewer than autoBuckets buckets of about autoLabels labels
// each or more.
func autoBucket(outcomes []store.Outcome) time.Duration {
	if len(outcomes) < 2 {
		return time.Hour
	}
	span := outcomes[len(outcomes)-1].CreatedAt.Sub(outcomes[0].CreatedAt)
	for _, b := range niceBuckets {
		n := int(span/b) + 1
		if n < autoBuckets && len(outcomes)/n >= autoLabels {
			return b
		}
	}
	return niceBuckets[len(niceBuckets)-1]
}

// buckets counts outcomes (oldest first) in buckets of width, aligned to
// whole multiples of width since the Unix epoch so that pages asked at
// different times agree; buckets with no labels are left out.
func buckets(outcomes []store.Outcome, width time.Duration) []livePoint {
	out := []livePoint{}
	for _, o := range outcomes {
		start := o.CreatedAt.Truncate(width).UTC()
		if n := len(out); n == 0 || !out[n-1].Start.Equal(start) {
			out = append(out, livePoint{Start: start})
		}
		p := &out[len(out)-1]
		p.Labelled++
		if o.Correct {
			p.Correct++
		}
	}
	for i := range out {
		out[i].Accuracy = float64(out[i].Correct) / float64(out[i].Labelled)
	}
	return out
}
