package store_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// throwawayDatabase creates a database on TEST_DATABASE_URL's server with
// the given CREATE DATABASE options, drops it at cleanup, and returns a URL
// for it. It skips the test when TEST_DATABASE_URL is unset.
func throwawayDatabase(tb testing.TB, name, options string) string {
	tb.Helper()
	base := os.Getenv(storetest.EnvDatabaseURL)
	if base == "" {
		tb.Skip(storetest.EnvDatabaseURL + " unset: skipping PostgreSQL")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("connect to %s: %v", storetest.EnvDatabaseURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A database left by a run that was killed before its cleanup.
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
		admin.Close()
		tb.Fatalf("drop database %s: %v", name, err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" "+options); err != nil {
		admin.Close()
		tb.Fatalf("create database %s %s: %v", name, options, err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	return withDatabase(tb, base, name)
}

// withDatabase returns base with its database name (and user, when user is
// not nil) replaced.
func withDatabase(tb testing.TB, base, name string) string {
	tb.Helper()
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse %s: %v", storetest.EnvDatabaseURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

func TestOpenNamesWhyItCannotUseADatabase(t *testing.T) {
	base := os.Getenv(storetest.EnvDatabaseURL)
	if base == "" {
		t.Skip(storetest.EnvDatabaseURL + " unset: skipping PostgreSQL")
	}
	asciiURL := throwawayDatabase(t, "store_test_sql_ascii", "ENCODING 'SQL_ASCII' TEMPLATE template0")
	missingURL := withDatabase(t, base, "store_test_no_such_database")
	u, _ := url.Parse(base)
	u.User = url.UserPassword("store_test_no_such_user", "hunter2")
	unknownUserURL := u.String()

	tests := []struct {
		name  string
		url   string
		wants []string // each must appear in the error
	}{
		{"encoding not UTF-8", asciiURL, []string{"encoding SQL_ASCII, not UTF-8", `"store_test_sql_ascii"`, "ENCODING 'UTF8'"}},
		{"missing database", missingURL, []string{"missing database", `no database "store_test_no_such_database"`, "CREATE DATABASE"}},
		{"unknown user", unknownUserURL, []string{`refused user "store_test_no_such_user"`, "no such user"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := store.Open(context.Background(), tt.url, nil)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			for _, want := range tt.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if errors.Is(err, store.ErrUnavailable) {
				t.Errorf("error %q is ErrUnavailable: the server would wait for a database that waiting cannot fix", err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}

}

// TestConcurrentOpenOnAnEmptyDatabaseMigratesOnce starts many stores on one
// empty schema at once, as replicas of a fresh deployment do: without the
// migration lock some of them fail with "relation already exists" or a
// duplicate key in pg_type.
func TestConcurrentOpenOnAnEmptyDatabaseMigratesOnce(t *testing.T) {
	for round := range 2 {
		url := storetest.PostgresURL(t)
		const replicas = 8
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, replicas)
		stores := make([]*store.Store, replicas)
		for i := range replicas {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = store.Open(context.Background(), url, nil)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: replica %d: Open: %v", round, i, err)
				continue
			}
			defer stores[i].Close()
		}
		if t.Failed() {
			return
		}
		// Every replica writes to the one table the migration made.
		for i, s := range stores {
			if err := s.Create(context.Background(), []*store.Prediction{storetest.Prediction(i%10, byte(i))}); err != nil {
				t.Fatalf("round %d: replica %d: Create: %v", round, i, err)
			}
		}
		assertCount(t, stores[0], replicas)
	}
}

func TestExplainPostgresWrongPassword(t *testing.T) {
	// The test server trusts local logins, so a wrong password is shown with
	// the error the server sends (the compose test sees a real one).
	err := store.ExplainPostgresForTest("app", "predictions", "db", 5432,
		&pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "app"`})
	for _, want := range []string{"wrong password", `user "app"`, "db:5432", "password authentication failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Errorf("error %q lost the server's error from its chain", err)
	}
}
