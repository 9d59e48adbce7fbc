package registry

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// terminate ends, from outside, the connections of the PostgreSQL kit k
// whose application_name is appName plus k's schema, as a restart of the
// server would, and returns how many it ended.
func terminate(tb testing.TB, k kit, appName string) int {
	tb.Helper()
	u, err := url.Parse(k.url)
	if err != nil {
		tb.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	db, err := sql.Open("pgx", os.Getenv(storetest.EnvDatabaseURL))
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx(tb), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, appName+schema).Scan(&n)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// listening reports how many listener connections k's schema has.
func listening(tb testing.TB, k kit) int {
	tb.Helper()
	u, _ := url.Parse(k.url)
	db, err := sql.Open("pgx", os.Getenv(storetest.EnvDatabaseURL))
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx(tb), `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
		store.ListenerAppName+u.Query().Get("search_path")).Scan(&n)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// watchingReplica starts a replica of k that follows changes with a poll
// interval of an hour: what it sees within seconds came by NOTIFY.
func watchingReplica(t *testing.T, k kit) *replica {
	t.Helper()
	rp := newReplica(t, k.open(t))
	if err := rp.k.Load(ctx(t)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	c, cancel := context.WithCancel(context.Background())
	go func() { defer close(done); rp.k.Watch(c, time.Hour) }()
	t.Cleanup(func() { cancel(); <-done })
	waitUntil(t, "the replica listens", 5*time.Second, func() bool { return listening(t, k) == 1 })
	return rp
}

func TestAPromoteReachesAListeningReplicaAtOnce(t *testing.T) {
	k := newKit(t, "postgres")
	a := New(k.open(t), nil)
	v1 := saveAt(t, a, 1, time.Now().Add(-time.Hour))
	v2 := saveAt(t, a, 2, time.Now())
	rp := watchingReplica(t, k)
	for _, step := range []struct {
		name string
		do   func() error
		want string
	}{
		{"a promote", func() error { _, err := a.Promote(ctx(t), v1); return err }, v1},
		{"a rollback", func() error { _, err := a.Rollback(ctx(t)); return err }, v2},
		{"a newer model saved", func() error { saveAt(t, a, 3, time.Now().Add(time.Minute)); return nil }, ""},
	} {
		began := time.Now()
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		want := step.want
		if want == "" {
			want, _, _ = a.Served(ctx(t))
		}
		waitUntil(t, step.name+" reaches the replica", 5*time.Second, func() bool { return rp.version() == want })
		t.Logf("%s reached the replica in %v", step.name, time.Since(began).Round(time.Millisecond))
	}
}

// TestTheListenerResubscribesAfterItsConnectionDies stands in for a
// PostgreSQL restart by ending the listener's connection from outside: a
// promote made while it is away takes effect once it is back, and a
// promote made after it reaches the replica as before.
func TestTheListenerResubscribesAfterItsConnectionDies(t *testing.T) {
	k := newKit(t, "postgres")
	a := New(k.open(t), nil)
	v1 := saveAt(t, a, 1, time.Now().Add(-time.Hour))
	v2 := saveAt(t, a, 2, time.Now())
	rp := watchingReplica(t, k)
	if n := terminate(t, k, store.ListenerAppName); n != 1 {
		t.Fatalf("ended %d listener connections, want 1", n)
	}
	if _, err := a.Promote(ctx(t), v1); err != nil { // likely before it is back
		t.Fatal(err)
	}
	waitUntil(t, "the promote made while away takes effect", 5*time.Second, func() bool { return rp.version() == v1 })
	waitUntil(t, "the replica listens again", 5*time.Second, func() bool { return listening(t, k) == 1 })
	began := time.Now()
	if _, err := a.Promote(ctx(t), v2); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a promote after the reconnect reaches the replica", 5*time.Second, func() bool { return rp.version() == v2 })
	t.Logf("after the reconnect, a promote reached the replica in %v", time.Since(began).Round(time.Millisecond))
}

func TestTheTrainingLeaseDiesWithItsConnection(t *testing.T) {
	k := newKit(t, "postgres")
	a, b := New(k.open(t), nil), New(k.open(t), nil)
	l, err := a.Elect(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if _, err := b.Elect(ctx(t)); !errors.Is(err, ErrTrainingElsewhere) {
		t.Fatalf("Elect while a holds the lease: %v, want ErrTrainingElsewhere", err)
	}
	// b's failed attempt may still show its connection while the server
	// ends it, so more than one may be counted; a's must be among them.
	if n := terminate(t, k, store.LeaseAppName); n < 1 {
		t.Fatalf("ended %d lease connections, want a's", n)
	}
	var l2 Lease
	waitUntil(t, "b is elected once a's connection is gone", 5*time.Second, func() bool {
		l2, err = b.Elect(ctx(t))
		return err == nil
	})
	l2.Release()
}
