// Package store keeps every prediction the server makes in table
// `predictions`, in PostgreSQL or in an embedded pure-Go SQLite file, through
// GORM. It knows nothing of HTTP; callers branch on ErrNotFound and
// ErrUnavailable.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// DefaultSQLitePath is the file Open uses when it is given no URL.
const DefaultSQLitePath = "predictions.db"

const (
	// defaultConnectTimeout bounds a PostgreSQL dial when the URL sets no
	// connect_timeout, so a dead host fails fast instead of hanging.
	defaultConnectTimeout = 5 * time.Second
	// defaultOpTimeout bounds a call whose context has no deadline, so no call
	// waits forever on a server that vanished without closing its sockets.
	defaultOpTimeout = 15 * time.Second
	// sqliteBusyTimeoutMS is how long SQLite waits for another process's write
	// lock before giving up with "database is locked".
	sqliteBusyTimeoutMS = 10000
)

// Store reads and writes predictions; it is safe for concurrent use. A call
// whose context has no deadline gets one of defaultOpTimeout, so no call hangs.
type Store struct {
	db      *gorm.DB
	sqlDB   *sql.DB
	driver  string
	commits *committer      // group-commits the rows of Create
	stmts   *statements     // the INSERTs of the group commit
	pg      pgTarget        // what errors may name, for PostgreSQL
	pgcfg   *pgx.ConnConfig // for the dedicated connections of listen.go
	path    string          // the SQLite file
}

// Open connects to url and migrates table predictions, keeping existing rows.
// url "" means SQLite at DefaultSQLitePath; "sqlite:<path>" or a path ending
// in .db means SQLite at that path; "postgres://..." or "postgresql://..."
// means PostgreSQL. An unreachable PostgreSQL gives an error wrapping
// ErrUnavailable, so the caller can decide to retry; a PostgreSQL database
// the app cannot use (wrong password, unknown user, missing database, an
// encoding other than UTF-8) gives an error that names the cause in words.
// Processes that open one empty PostgreSQL database at once migrate it one
// after another. GORM's warnings (slow queries, errors) go to logger; nil
// discards them.
func Open(ctx context.Context, url string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	kind, dsn, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	var s *Store
	switch kind {
	case "postgres":
		s, err = openPostgres(dsn, logger)
	default:
		s, err = openSQLite(dsn, logger)
	}
	if err != nil {
		return nil, err
	}
	if err := s.open(ctx); err != nil {
		s.Close()
		if s.driver == "postgres" {
			err = explainPostgres(s.pg, err)
		}
		return nil, fmt.Errorf("open %s: %w", s.driver, err)
	}
	s.startCommitter(committers(s.driver))
	return s, nil
}

// open checks that the database answers and can be used, and migrates
// table predictions.
func (s *Store) open(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	mctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if s.driver == "postgres" {
		if err := s.checkEncoding(mctx); err != nil {
			return err
		}
		return wrap(mctx, "migrate table predictions", s.migratePostgres(mctx))
	}
	return wrap(mctx, "migrate table predictions", s.db.WithContext(mctx).AutoMigrate(&Prediction{}))
}

// parseURL tells which database url names and returns the DSN for its driver.
func parseURL(url string) (kind, dsn string, err error) {
	switch {
	case url == "":
		return "sqlite", DefaultSQLitePath, nil
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return "postgres", url, nil
	case strings.HasPrefix(url, "sqlite://"):
		dsn = strings.TrimPrefix(url, "sqlite://")
	case strings.HasPrefix(url, "sqlite:"):
		dsn = strings.TrimPrefix(url, "sqlite:")
	case strings.HasSuffix(url, ".db") && !strings.Contains(url, "://"):
		dsn = url
	default:
		// Only the scheme is echoed: the rest may hold a password.
		scheme, _, _ := strings.Cut(url, ":")
		return "", "", fmt.Errorf("unsupported database URL (scheme %q): want postgres://..., sqlite:<path> or a file ending in .db", scheme)
	}
	if dsn == "" {
		return "", "", fmt.Errorf("database URL %q names no SQLite file", url)
	}
	if strings.Contains(dsn, "?") {
		return "", "", fmt.Errorf("SQLite path %q must not contain '?'", dsn)
	}
	return "sqlite", dsn, nil
}

func openPostgres(url string, logger *slog.Logger) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse PostgreSQL URL: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	// database/sql over pgx drops a broken connection and dials a new one on
	// the next call, so the pool heals by itself once the server is back.
	sqlDB := stdlib.OpenDB(*cfg)
	sqlDB.SetMaxOpenConns(10)
	sqlDB.SetMaxIdleConns(5)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	sqlDB.SetConnMaxLifetime(time.Hour)
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), gormConfig(logger))
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return &Store{db: db, sqlDB: sqlDB, driver: "postgres", pg: targetOf(cfg), pgcfg: cfg, stmts: &statements{dollar: true}}, nil
}

func openSQLite(path string, logger *slog.Logger) (*Store, error) {
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_time_format=sqlite", path, sqliteBusyTimeoutMS)
	db, err := gorm.Open(sqlite.Open(dsn), gormConfig(logger))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// One connection serialises every statement in this process, so
	// concurrent writers queue in database/sql (honouring their contexts)
	// instead of failing with "database is locked".
	sqlDB.SetMaxOpenConns(1)
	return &Store{db: db, sqlDB: sqlDB, driver: "sqlite", path: path, stmts: &statements{prepare: sqlDB}}, nil
}

// gormConfig keeps GORM quiet: errors and slow queries go to slog without
// their parameters (no pixel bytes in logs), and a missing row is not logged
// because ErrNotFound is an ordinary answer.
func gormConfig(l *slog.Logger) *gorm.Config {
	return &gorm.Config{
		Logger: logger.NewSlogLogger(l, logger.Config{
			LogLevel:                  logger.Warn,
			SlowThreshold:             time.Second,
			IgnoreRecordNotFoundError: true,
			ParameterizedQueries:      true,
		}),
		// PostgreSQL keeps microseconds; truncating here makes the time Create
		// reports equal to the one read back, in both databases.
		NowFunc:                func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		DisableAutomaticPing:   true, // Open pings with the caller's context instead
		SkipDefaultTransaction: true, // Create opens its own; reads need none
	}
}

// withTimeout gives ctx a deadline of defaultOpTimeout when it has none.
func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, defaultOpTimeout)
}

// Ping checks that the database answers; failures wrap ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	return wrap(ctx, "ping database", s.sqlDB.PingContext(ctx))
}

// committers is how many transactions of Create may run at once: one on
// SQLite, whose single connection serialises them anyway; two on PostgreSQL,
// so that one group is inserted while the previous one waits for its commit.
func committers(driver string) int {
	if driver == "sqlite" {
		return 1
	}
	return 2
}

// Close commits every row already handed to Create, then waits for running
// queries to finish and closes every connection.
func (s *Store) Close() error {
	if s.commits != nil {
		s.commits.close()
	}
	s.stmts.close()
	return s.sqlDB.Close()
}

// Driver names the database in use, "postgres" or "sqlite", for logs.
func (s *Store) Driver() string { return s.driver }
