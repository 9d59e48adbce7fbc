package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// APIKeyRow is one API key in table api_keys: its name (the key), role and
// the SHA-256 of its token; the token itself is never stored.
type APIKeyRow struct {
	ID        int64     `gorm:"column:id;primaryKey;autoIncrement"`
	Name      string    `gorm:"column:name;size:64;not null;uniqueIndex:idx_api_keys_name"`
	Role      string    `gorm:"column:role;size:16;not null"`
	SHA256    string    `gorm:"column:sha256;size:64;not null"`
	CreatedAt time.Time `gorm:"column:created_at;not null"`
}

// TableName is "api_keys".
func (APIKeyRow) TableName() string { return "api_keys" }

// ErrAPIKeyTaken is wrapped by InsertAPIKey's error when a key of that name is
// stored already; ErrNotFound by DeleteAPIKey's when none is.
var ErrAPIKeyTaken = errors.New("api key name already stored")

// MigrateAPIKeys creates or updates table api_keys. Only stores that keep
// the keys in the database call it, so a server with a keys file adds no
// table.
func (s *Store) MigrateAPIKeys(ctx context.Context) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if s.driver != "postgres" {
		return wrap(ctx, "migrate table api_keys", s.db.WithContext(ctx).AutoMigrate(&APIKeyRow{}))
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtext(? || coalesce(current_schema(), '')))", migrateLockKey).Error; err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
		return tx.AutoMigrate(&APIKeyRow{})
	})
	return wrap(ctx, "migrate table api_keys", err)
}

// APIKeys returns every stored key in the order they were added, and a
// fingerprint of them: the same fingerprint means the same keys.
func (s *Store) APIKeys(ctx context.Context) ([]APIKeyRow, string, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var rows []APIKeyRow
	if err := s.db.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, "", wrap(ctx, "read table api_keys", err)
	}
	h := sha256.New()
	for _, r := range rows {
		for _, f := range []string{strconv.FormatInt(r.ID, 10), r.Name, r.Role, r.SHA256} {
			h.Write([]byte(f))
			h.Write([]byte{0})
		}
	}
	for i := range rows {
		rows[i].CreatedAt = rows[i].CreatedAt.UTC()
	}
	return rows, hex.EncodeToString(h.Sum(nil)), nil
}

// InsertAPIKey stores row; the error wraps ErrAPIKeyTaken when its name is
// taken.
func (s *Store) InsertAPIKey(ctx context.Context, row *APIKeyRow) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res := s.db.WithContext(ctx).Exec(
		`INSERT INTO api_keys (name, role, sha256, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		row.Name, row.Role, row.SHA256, row.CreatedAt.UTC())
	if res.Error != nil {
		return wrap(ctx, "insert api key", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("insert api key %q: %w", row.Name, ErrAPIKeyTaken)
	}
	return nil
}

// DeleteAPIKey removes the key called name; the error wraps ErrNotFound
// when there is none.
func (s *Store) DeleteAPIKey(ctx context.Context, name string) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res := s.db.WithContext(ctx).Where("name = ?", name).Delete(&APIKeyRow{})
	if res.Error != nil {
		return wrap(ctx, "delete api key", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete api key %q: %w", name, ErrNotFound)
	}
	return nil
}
