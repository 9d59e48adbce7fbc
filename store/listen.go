package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListenerAppName is the application_name of the connection ListenModels
// listens on, followed by the schema: operators (and the tests) find it in
// pg_stat_activity.
const ListenerAppName = "mnistserve models listener "

// reconnectPause bounds the wait between two attempts to reconnect the
// listener: short, so that a promote made while the database was away
// takes effect soon after it is back.
const (
	firstReconnectPause = 100 * time.Millisecond
	maxReconnectPause   = 2 * time.Second
)

// CanListen reports whether ListenModels delivers announcements: on
// PostgreSQL only.
func (s *Store) CanListen() bool { return s.driver == "postgres" }

// SQLitePath is the file of a SQLite store; "" on PostgreSQL.
func (s *Store) SQLitePath() string { return s.path }

// ListenModels calls changed each time a model is saved or the pin moved in
// this database and schema (by any process), until ctx is done. It listens
// on a connection of its own; when that connection breaks (a restart of
// the server, a network cut) it reconnects and subscribes again, and calls
// changed once subscribed, since announcements sent meanwhile are lost.
// Errors go to logger. On SQLite it returns at once.
func (s *Store) ListenModels(ctx context.Context, logger *slog.Logger, changed func()) error {
	if s.driver != "postgres" {
		return nil
	}
	pause := firstReconnectPause
	for attempt := 0; ctx.Err() == nil; attempt++ {
		err := s.listenOnce(ctx, func() {
			pause = firstReconnectPause
			if attempt > 0 {
				changed() // what was announced while we were away is lost
			}
		}, changed)
		if ctx.Err() != nil {
			return nil
		}
		logger.Warn("model announcements: connection lost; reconnecting", "retry_in", pause, "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, maxReconnectPause)
	}
	return nil
}

// listenOnce connects, subscribes (then calls subscribed), and calls
// changed for each announcement of this schema until the connection fails
// or ctx is done.
func (s *Store) listenOnce(ctx context.Context, subscribed, changed func()) error {
	conn, schema, err := s.dedicatedConn(ctx, ListenerAppName)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+modelsChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	subscribed()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Payload == schema {
			changed()
		}
	}
}

// dedicatedConn opens a connection of its own (not from the pool), named
// appName plus the schema, and returns it with its current schema.
func (s *Store) dedicatedConn(ctx context.Context, appName string) (*pgx.Conn, string, error) {
	cfg := s.pgcfg.Copy()
	dctx, cancel := context.WithTimeout(ctx, defaultConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(dctx, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("connect: %w", err)
	}
	var schema string
	if err := conn.QueryRow(dctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, "", fmt.Errorf("read the schema: %w", err)
	}
	if _, err := conn.Exec(dctx, "SELECT set_config('application_name', $1, false)", appName+schema); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, "", fmt.Errorf("name the connection: %w", err)
	}
	return conn, schema, nil
}

// ErrLocked is returned by TryLease while another connection holds the lease.
var ErrLocked = errors.New("held by another process")

// LeaseAppName is the application_name of the connection holding a lease,
// followed by the schema.
const LeaseAppName = "mnistserve lease "

// Lease is a PostgreSQL advisory lock held on a connection of its own:
// closing the connection, or the death of the process, releases it.
type Lease struct {
	conn *pgx.Conn
}

// TryLease takes the advisory lock named name (within this schema) on a
// connection of its own, or returns ErrLocked while another holds it.
func (s *Store) TryLease(ctx context.Context, name string) (*Lease, error) {
	if s.driver != "postgres" {
		return nil, errors.New("advisory locks need PostgreSQL")
	}
	conn, _, err := s.dedicatedConn(ctx, LeaseAppName)
	if err != nil {
		return nil, wrap(ctx, "take lease "+name, err)
	}
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var got bool
	err = conn.QueryRow(qctx, "SELECT pg_try_advisory_lock(hashtext($1 || coalesce(current_schema(), '')))", name).Scan(&got)
	if err != nil || !got {
		conn.Close(context.WithoutCancel(ctx))
		if err != nil {
			return nil, wrap(qctx, "take lease "+name, err)
		}
		return nil, ErrLocked
	}
	return &Lease{conn: conn}, nil
}

// Release gives the lease up by closing its connection.
func (l *Lease) Release() error {
	ctx, cancel := context.WithTimeout(context.Background(), defaultConnectTimeout)
	defer cancel()
	return l.conn.Close(ctx)
}
