package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// prediction850c969 is table predictions as commit 850c969 (before labels)
// created it: the shape of every database in use when labels arrived.
type prediction850c969 struct {
	ID            int64               `gorm:"column:id;primaryKey;generated:identity"`
	CreatedAt     time.Time           `gorm:"column:created_at;not null"`
	Image         []byte              `gorm:"column:image;not null"`
	Prediction    int                 `gorm:"column:prediction;type:integer;not null;check:chk_predictions_digit,prediction >= 0 AND prediction <= 9"`
	Confidence    float32             `gorm:"column:confidence;type:real;not null"`
	Probabilities store.Probabilities `gorm:"column:probabilities;type:text;not null"`
	ModelVersion  string              `gorm:"column:model_version;type:text;not null"`
}

func (prediction850c969) TableName() string { return "predictions" }

func TestOpenAddsLabelColumnsToATableWithRows(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			var url string
			if kind == "sqlite" {
				url = "sqlite:" + filepath.Join(t.TempDir(), "old.db")
			} else {
				url = storetest.PostgresURL(t)
			}
			ctx := context.Background()
			old := openOld(t, url)
			defer closeGORM(t, old)
			rows := []*prediction850c969{
				{Image: make([]byte, 784), Prediction: 3, Confidence: 0.9, ModelVersion: "old-a"},
				{Image: make([]byte, 784), Prediction: 8, Confidence: 0.6, ModelVersion: "old-b"},
			}
			rows[1].Image[5] = 200
			if err := old.Create(rows).Error; err != nil {
				t.Fatalf("insert into the old table: %v", err)
			}

			s, err := store.Open(ctx, url, nil)
			if err != nil {
				t.Fatalf("Open on the old table: %v", err)
			}
			defer s.Close()
			for _, col := range []string{"label", "labelled_at"} {
				if !old.Migrator().HasColumn(&store.Prediction{}, col) {
					t.Errorf("column %s was not added", col)
				}
			}
			if !old.Migrator().HasIndex(&store.Prediction{}, "idx_predictions_labelled") {
				t.Error("index idx_predictions_labelled was not added")
			}
			for _, r := range rows {
				got, err := s.Get(ctx, r.ID)
				if err != nil {
					t.Fatalf("row %d lost: %v", r.ID, err)
				}
				if got.Prediction != r.Prediction || got.ModelVersion != r.ModelVersion || got.Image[5] != r.Image[5] || got.Label != nil {
					t.Errorf("row %d after migration: %+v, want %+v unlabelled", r.ID, got, r)
				}
			}
			if _, err := s.SetLabel(ctx, rows[1].ID, 2); err != nil {
				t.Fatalf("label an old row: %v", err)
			}
			live, err := s.LiveAccuracy(ctx)
			if err != nil || live["old-b"] != (store.Live{Labelled: 1, Correct: 0}) {
				t.Errorf("LiveAccuracy after labelling an old row = %v, %v", live, err)
			}
			if err := old.Exec("UPDATE predictions SET label = 42 WHERE id = ?", rows[0].ID).Error; err == nil {
				t.Error("the migrated table took label 42: no check constraint")
			}
			if n, _ := s.Count(ctx); n != 2 {
				t.Errorf("%d rows after migration, want 2", n)
			}
		})
	}
}

// openOld creates table predictions at url in its 850c969 shape, through
// a GORM connection of its own that the test keeps for raw checks.
func openOld(tb testing.TB, url string) *gorm.DB {
	tb.Helper()
	var d gorm.Dialector
	if strings.HasPrefix(url, "postgres") {
		d = postgres.Open(url)
	} else {
		d = sqlite.Open(strings.TrimPrefix(url, "sqlite:") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	}
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.AutoMigrate(&prediction850c969{}); err != nil {
		tb.Fatalf("create the old table: %v", err)
	}
	return db
}

func closeGORM(tb testing.TB, db *gorm.DB) {
	tb.Helper()
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
}
