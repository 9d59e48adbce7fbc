package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ModelRow is one saved model in table models: its version (the key, so a
// version names one model only), its metadata as JSON, and its weights with
// their checksum. Rows are written once and never changed.
type ModelRow struct {
	Version       string    `gorm:"primaryKey;size:64"`
	CreatedAt     time.Time `gorm:"not null;index"`
	Meta          []byte    `gorm:"not null"` // the model's metadata, JSON
	WeightsSHA256 string    `gorm:"size:64;not null"`
	Weights       []byte    `gorm:"not null"`
}

// TableName is "models".
func (ModelRow) TableName() string { return "models" }

// ModelHead is a model row without its weights: what a scan reads.
type ModelHead struct {
	Version       string
	Meta          []byte
	WeightsSHA256 string
	WeightsBytes  int64 // the length of the weights column
}

// PinRow is one change of the pinned model in table model_pins; the newest
// row's version is the pin ("" none).
type PinRow struct {
	ID       int64     `gorm:"primaryKey;autoIncrement"`
	Action   string    `gorm:"size:16;not null"`
	Version  string    `gorm:"size:64;not null"`
	Previous string    `gorm:"size:64;not null"`
	At       time.Time `gorm:"not null"`
}

// TableName is "model_pins".
func (PinRow) TableName() string { return "model_pins" }

// ErrVersionTaken is wrapped by SaveModel's error when a model of that
// version is stored already.
var ErrVersionTaken = errors.New("model version already stored")

// modelsChannel is the PostgreSQL channel on which a saved model or a moved
// pin is announced; the payload is the schema, so that stores in different
// schemas of one database ignore each other.
const modelsChannel = "mnistserve_models"

// MigrateModels creates or updates tables models and model_pins. Only
// stores that keep models in the database call it, so a server that keeps
// them in a folder adds no tables.
func (s *Store) MigrateModels(ctx context.Context) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if s.driver != "postgres" {
		return wrap(ctx, "migrate the model tables", s.db.WithContext(ctx).AutoMigrate(&ModelRow{}, &PinRow{}))
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtext(? || coalesce(current_schema(), '')))", migrateLockKey).Error; err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
		return tx.AutoMigrate(&ModelRow{}, &PinRow{})
	})
	return wrap(ctx, "migrate the model tables", err)
}

// SaveModel inserts row, announcing it to the listeners of ListenModels.
// The error wraps ErrVersionTaken when the version is stored already.
func (s *Store) SaveModel(ctx context.Context, row *ModelRow) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(row)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: %s", ErrVersionTaken, row.Version)
		}
		return s.notify(tx)
	})
	return wrap(ctx, "save model "+row.Version, err)
}

// ModelHeads returns every stored model without its weights.
func (s *Store) ModelHeads(ctx context.Context) ([]ModelHead, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var heads []ModelHead
	err := s.db.WithContext(ctx).Model(&ModelRow{}).
		Select("version, meta, weights_sha256, length(weights) AS weights_bytes").
		Scan(&heads).Error
	return heads, wrap(ctx, "list models", err)
}

// Model returns the stored model version, weights included; ok is false
// when there is none.
func (s *Store) Model(ctx context.Context, version string) (row ModelRow, ok bool, err error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res := s.db.WithContext(ctx).Where("version = ?", version).Limit(1).Find(&row)
	if res.Error != nil {
		return row, false, wrap(ctx, "read model "+version, res.Error)
	}
	return row, res.RowsAffected == 1, nil
}

// PinEvents returns the latest n changes of the pin, oldest first.
func (s *Store) PinEvents(ctx context.Context, n int) ([]PinRow, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var rows []PinRow
	err := s.db.WithContext(ctx).Order("id DESC").Limit(n).Find(&rows).Error
	if err != nil {
		return nil, wrap(ctx, "read the pin", err)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows, nil
}

// AddPinEvent records a change of the pin, announcing it to the listeners
// of ListenModels.
func (s *Store) AddPinEvent(ctx context.Context, row *PinRow) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(row).Error; err != nil {
			return err
		}
		return s.notify(tx)
	})
	return wrap(ctx, "move the pin", err)
}

// notify announces a change of the models on PostgreSQL, delivered when tx
// commits; SQLite has no listeners.
func (s *Store) notify(tx *gorm.DB) error {
	if s.driver != "postgres" {
		return nil
	}
	return tx.Exec("SELECT pg_notify(?, coalesce(current_schema(), ''))", modelsChannel).Error
}
