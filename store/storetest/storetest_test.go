package storetest_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"testing"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

func TestBackendsGiveEachTestAnEmptyStore(t *testing.T) {
	for range 2 {
		storetest.Backends(t, func(t *testing.T, s *store.Store) {
			ctx := context.Background()
			assertCount(t, s, 0)
			if err := s.Create(ctx, []*store.Prediction{storetest.Prediction(2, 2)}); err != nil {
				t.Fatalf("Create: %v", err)
			}
			assertCount(t, s, 1)
		})
	}
}

func TestPostgresSchemaIsDroppedAtCleanup(t *testing.T) {
	if os.Getenv(storetest.EnvDatabaseURL) == "" {
		t.Skip(storetest.EnvDatabaseURL + " unset: skipping PostgreSQL")
	}
	var schema string
	t.Run("a test using a schema", func(t *testing.T) {
		s, u := storetest.Open(t, "postgres")
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatalf("parse %q: %v", u, err)
		}
		schema = parsed.Query().Get("search_path")
		if schema == "" {
			t.Fatalf("URL %q sets no search_path", u)
		}
		if err := s.Create(context.Background(), []*store.Prediction{storetest.Prediction(1, 1)}); err != nil {
			t.Fatalf("Create: %v", err)
		}
	})
	db, err := sql.Open("pgx", os.Getenv(storetest.EnvDatabaseURL))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", schema).Scan(&n); err != nil {
		t.Fatalf("look up schema: %v", err)
	}
	if n != 0 {
		t.Errorf("schema %s still exists after the test ended", schema)
	}
}

func TestPredictionIsValidAndDistinctPerSeed(t *testing.T) {
	a, b := storetest.Prediction(7, 1), storetest.Prediction(7, 2)
	if len(a.Image) != 784 || a.Prediction != 7 || a.Confidence != a.Probabilities[7] {
		t.Errorf("Prediction(7, 1) = %+v: want a 784-byte image and confidence of digit 7", a)
	}
	if string(a.Image) == string(b.Image) || a.ModelVersion == b.ModelVersion {
		t.Error("predictions with different seeds are indistinguishable")
	}
}

func assertCount(t *testing.T, s *store.Store, want int64) {
	t.Helper()
	n, err := s.Count(context.Background())
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	if n != want {
		t.Errorf("Count = %d, want %d", n, want)
	}
}
