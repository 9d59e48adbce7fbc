// Package storetest opens throwaway stores for tests: a fresh SQLite file
// always, and a fresh PostgreSQL schema when TEST_DATABASE_URL is set.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx" for schema setup

	"github.com/mnistserve/app/store"
)

// EnvDatabaseURL names the variable holding the PostgreSQL URL for tests.
const EnvDatabaseURL = "TEST_DATABASE_URL"

// skipPostgres is the message shown when PostgreSQL tests do not run.
const skipPostgres = EnvDatabaseURL + " unset: skipping PostgreSQL"

// setupTimeout bounds creating and dropping a test schema.
const setupTimeout = 30 * time.Second

// Backends runs fn in a subtest per backend: "sqlite" always and "postgres"
// when TEST_DATABASE_URL is set (otherwise that subtest is skipped, visibly).
func Backends(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			s, _ := Open(t, kind)
			fn(t, s)
		})
	}
}

// Open returns a store on a fresh backend of the given kind, "sqlite" or
// "postgres", and the URL it used; the store is closed at cleanup. The
// postgres kind skips the test when TEST_DATABASE_URL is unset.
func Open(tb testing.TB, kind string) (*store.Store, string) {
	tb.Helper()
	var u string
	switch kind {
	case "sqlite":
		u = "sqlite:" + filepath.Join(tb.TempDir(), "predictions.db")
	case "postgres":
		u = PostgresURL(tb)
	default:
		tb.Fatalf("storetest.Open: unknown backend %q, want sqlite or postgres", kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s, err := store.Open(ctx, u, nil)
	if err != nil {
		tb.Fatalf("open %s store: %v", kind, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close %s store: %v", kind, err)
		}
	})
	return s, u
}

// PostgresURL creates an empty schema for this test and returns
// TEST_DATABASE_URL set to use it through search_path, so parallel tests
// never see each other's rows; the schema is dropped at cleanup. It skips
// the test when TEST_DATABASE_URL is unset.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		tb.Skip(skipPostgres)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse %s: %v", EnvDatabaseURL, err)
	}
	schema := "test_" + randomHex(tb, 8)

	db, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("connect to %s: %v", EnvDatabaseURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	// Registered before Open's cleanup so it runs after the store is closed.
	tb.Cleanup(func() {
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("random schema name: %v", err)
	}
	return hex.EncodeToString(b)
}

// Prediction returns a valid prediction for digit, with a distinct image and
// probabilities derived from seed so read-back checks can tell rows apart.
func Prediction(digit int, seed byte) *store.Prediction {
	p := &store.Prediction{
		Image:        make([]byte, 784),
		Prediction:   digit,
		ModelVersion: fmt.Sprintf("test-%d", seed),
	}
	for i := range p.Image {
		p.Image[i] = byte(i) ^ seed
	}
	rest := float32(seed%50) / 1000
	for i := range p.Probabilities {
		p.Probabilities[i] = rest / 9
	}
	p.Probabilities[digit] = 1 - rest
	p.Confidence = p.Probabilities[digit]
	return p
}
