package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url, kind, dsn string
	}{
		{"", "sqlite", "predictions.db"},
		{"sqlite:/var/lib/app/p.db", "sqlite", "/var/lib/app/p.db"},
		{"sqlite://rel/p.sqlite", "sqlite", "rel/p.sqlite"},
		{"data/predictions.db", "sqlite", "data/predictions.db"},
		{"postgres://u:p@db:5432/app?sslmode=disable", "postgres", "postgres://u:p@db:5432/app?sslmode=disable"},
		{"postgresql://db/app", "postgres", "postgresql://db/app"},
	}
	for _, tt := range tests {
		kind, dsn, err := parseURL(tt.url)
		if err != nil || kind != tt.kind || dsn != tt.dsn {
			t.Errorf("parseURL(%q) = %q, %q, %v; want %q, %q", tt.url, kind, dsn, err, tt.kind, tt.dsn)
		}
	}
}

func TestParseURLRefusesUnknownURLsWithoutEchoingSecrets(t *testing.T) {
	for _, url := range []string{"mysql://root:hunter2@db/app", "predictions.txt", "sqlite:", "sqlite:a.db?mode=ro"} {
		_, _, err := parseURL(url)
		if err == nil {
			t.Errorf("parseURL(%q) succeeded, want an error", url)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("parseURL(%q) error %q shows the password", url, err)
		}
	}
}

func TestOpenWithoutURLUsesPredictionsDBInWALMode(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := Open(context.Background(), "", nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if s.Driver() != "sqlite" {
		t.Errorf("Driver() = %q, want sqlite", s.Driver())
	}
	var mode string
	if err := s.db.Raw("PRAGMA journal_mode").Scan(&mode).Error; err != nil {
		t.Fatalf("read journal_mode: %v", err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	if _, err := os.Stat(filepath.Join(dir, DefaultSQLitePath)); err != nil {
		t.Errorf("no %s in the working directory: %v", DefaultSQLitePath, err)
	}
}
