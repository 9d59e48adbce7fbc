package registry

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for damageInPlace
	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// kit is one backend under test: open returns a fresh Backend on the same
// storage each call (another replica), and saveCorrupt stores a model
// whose weights fail their checksum, returning its version.
type kit struct {
	name        string
	url         string // the database's, for the database kinds
	dir         string // the folder's, for the folder
	open        func(tb testing.TB) Backend
	saveCorrupt func(tb testing.TB, b Backend, created time.Time) string
}

// ctx returns a context for one test, cancelled at its end.
func ctx(tb testing.TB) context.Context {
	c, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	return c
}

// backends runs fn once per backend: the folder and the database on SQLite
// always, the database on PostgreSQL when TEST_DATABASE_URL is set.
func backends(t *testing.T, fn func(t *testing.T, k kit)) {
	t.Helper()
	for _, name := range []string{"folder", "sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) { fn(t, newKit(t, name)) })
	}
}

// newKit makes fresh storage of the named kind.
func newKit(tb testing.TB, name string) kit {
	tb.Helper()
	switch name {
	case "folder":
		dir := tb.TempDir()
		return kit{name: name, dir: dir,
			open: func(testing.TB) Backend { return NewFolder(dir) },
			saveCorrupt: func(tb testing.TB, b Backend, created time.Time) string {
				m, err := b.Save(ctx(tb), model.NewWeights(99), model.Meta{CreatedAt: created})
				if err != nil {
					tb.Fatal(err)
				}
				p := filepath.Join(dir, m.WeightsFile)
				data, _ := os.ReadFile(p)
				data[len(data)/2] ^= 0xff
				if err := os.WriteFile(p, data, 0o644); err != nil {
					tb.Fatal(err)
				}
				return m.Version
			}}
	default:
		var url string
		if name == "sqlite" {
			url = "sqlite:" + filepath.Join(tb.TempDir(), "models.db")
		} else {
			url = storetest.PostgresURL(tb)
		}
		return kit{name: name, url: url,
			open: func(tb testing.TB) Backend {
				st, err := store.Open(ctx(tb), url, nil)
				if err != nil {
					tb.Fatal(err)
				}
				tb.Cleanup(func() { st.Close() })
				d, err := NewDatabase(ctx(tb), st, nil)
				if err != nil {
					tb.Fatal(err)
				}
				return d
			},
			saveCorrupt: func(tb testing.TB, b Backend, created time.Time) string {
				meta := model.Meta{CreatedAt: created, Version: model.NewVersion(created, 1)}
				data, err := model.Complete(model.NewWeights(99), &meta)
				if err != nil {
					tb.Fatal(err)
				}
				data[len(data)/2] ^= 0xff
				js := []byte(`{"version":"` + meta.Version + `","created_at":"` + created.UTC().Format(time.RFC3339Nano) +
					`","weights_sha256":"` + meta.WeightsSHA256 + `"}`)
				row := &store.ModelRow{Version: meta.Version, CreatedAt: created, Meta: js, WeightsSHA256: meta.WeightsSHA256, Weights: data}
				if err := b.(*Database).st.SaveModel(ctx(tb), row); err != nil {
					tb.Fatal(err)
				}
				return meta.Version
			}}
	}
}

// saveAt saves a model with fresh weights created at t and returns its version.
func saveAt(tb testing.TB, r *Registry, seed uint64, t time.Time) string {
	tb.Helper()
	m, err := r.Save(ctx(tb), model.NewWeights(seed), model.Meta{CreatedAt: t})
	if err != nil {
		tb.Fatal(err)
	}
	return m.Version
}

// currentVersion is the version Current loads, failing on an error.
func currentVersion(tb testing.TB, r *Registry) string {
	tb.Helper()
	_, m, err := r.Current(ctx(tb))
	if err != nil {
		tb.Fatalf("Current: %v", err)
	}
	return m.Version
}

func TestPromoteRollbackAndUnpinMoveTheServedModel(t *testing.T) {
	backends(t, func(t *testing.T, k kit) {
		r := New(k.open(t), nil)
		c := ctx(t)
		now := time.Now()
		a := saveAt(t, r, 1, now.Add(-3*time.Hour))
		b := saveAt(t, r, 2, now.Add(-2*time.Hour))
		cv := saveAt(t, r, 3, now.Add(-time.Hour))
		if v := currentVersion(t, r); v != cv {
			t.Fatalf("unpinned store serves %s, want the newest %s", v, cv)
		}
		steps := []struct {
			name   string
			do     func() (Pin, error)
			served string
			pinned string
		}{
			{"promoting a pins it", func() (Pin, error) { return r.Promote(c, a) }, a, a},
			{"promoting b pins it", func() (Pin, error) { return r.Promote(c, b) }, b, b},
			{"rollback returns to a, served before b's promote", func() (Pin, error) { return r.Rollback(c) }, a, a},
			{"a second rollback returns to c, served before a's promote", func() (Pin, error) { return r.Rollback(c) }, cv, cv},
			{"promoting b again pins it", func() (Pin, error) { return r.Promote(c, b) }, b, b},
			{"unpin serves the newest again", func() (Pin, error) { return r.Unpin(c) }, cv, ""},
			{"rollback after unpin returns to the model served before the last promote", func() (Pin, error) { return r.Rollback(c) }, cv, cv},
		}
		other := New(k.open(t), nil) // another replica of the same store
		for _, st := range steps {
			p, err := st.do()
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			read, err := other.ReadPin(c)
			if err != nil {
				t.Fatal(err)
			}
			if p.Version != st.pinned || read.Version != st.pinned {
				t.Errorf("%s: pin %q (read back %q), want %q", st.name, p.Version, read.Version, st.pinned)
			}
			if v := currentVersion(t, other); v != st.served {
				t.Errorf("%s: serves %s, want %s", st.name, v, st.served)
			}
			if v, pinned, _ := other.Served(c); v != st.served || pinned != (st.pinned != "") {
				t.Errorf("%s: Served = %s pinned %v, want %s", st.name, v, pinned, st.served)
			}
		}
		if p, _ := other.ReadPin(c); len(p.History) != len(steps) || p.History[1].Previous != a || p.History[1].Action != "promote" {
			t.Errorf("history %+v, want %d events, the second promoting b over a", p.History, len(steps))
		}
	})
}

func TestPinRefusesWhatCannotBeServed(t *testing.T) {
	backends(t, func(t *testing.T, k kit) {
		b := k.open(t)
		r := New(b, nil)
		c := ctx(t)
		good := saveAt(t, r, 1, time.Now().Add(-time.Hour))
		if _, err := r.Rollback(c); !errors.Is(err, model.ErrNothingToRollBack) {
			t.Errorf("Rollback with no history: %v, want ErrNothingToRollBack", err)
		}
		if _, err := r.Promote(c, "no-such-version"); !errors.Is(err, model.ErrUnknownVersion) {
			t.Errorf("Promote(unknown) = %v, want ErrUnknownVersion", err)
		}
		bad := k.saveCorrupt(t, b, time.Now())
		if _, err := r.Promote(c, bad); !errors.Is(err, model.ErrCorrupt) {
			t.Errorf("Promote(corrupt) = %v, want ErrCorrupt", err)
		}
		if p, _ := r.ReadPin(c); p.Version != "" {
			t.Errorf("a refused promote pinned %q", p.Version)
		}
		if ms, err := r.List(c); err != nil || len(ms) != 1 || ms[0].Version != good {
			t.Errorf("List = %v, %v; want only the valid %s", ms, err, good)
		}
		// good was served as the newest valid model before its own promote,
		// so rolling that promote back pins good.
		if _, err := r.Promote(c, good); err != nil {
			t.Fatal(err)
		}
		if p, err := r.Rollback(c); err != nil || p.Version != good {
			t.Errorf("Rollback = %+v, %v; want %s", p, err, good)
		}
	})
}

func TestAModelThatFailsItsChecksumIsRefusedLoggedOnceAndNeverServed(t *testing.T) {
	backends(t, func(t *testing.T, k kit) {
		var logs bytes.Buffer
		b := k.open(t)
		r := New(b, slog.New(slog.NewTextHandler(&logs, nil)))
		good := saveAt(t, r, 1, time.Now().Add(-time.Hour))
		bad := k.saveCorrupt(t, b, time.Now())
		for i := 0; i < 3; i++ {
			if v := currentVersion(t, r); v != good {
				t.Fatalf("serving %s, want the valid %s, not the corrupt newer %s", v, good, bad)
			}
		}
		if _, _, err := r.Load(ctx(t), bad); !errors.Is(err, model.ErrCorrupt) {
			t.Errorf("Load(corrupt) = %v, want ErrCorrupt", err)
		}
		if n := strings.Count(logs.String(), "did not load"); n != 1 || !strings.Contains(logs.String(), bad) {
			t.Errorf("the corrupt model was logged %d times, want once naming %s:\n%s", n, bad, logs.String())
		}
	})
}

func TestAHeldModelIsPinnedButNotRolledBackTo(t *testing.T) {
	backends(t, func(t *testing.T, k kit) {
		r := New(k.open(t), nil)
		c := ctx(t)
		a := saveAt(t, r, 1, time.Now().Add(-time.Hour))
		if _, err := r.Hold(c, a); err != nil {
			t.Fatal(err)
		}
		b := saveAt(t, r, 2, time.Now()) // newest, but a is held
		if v := currentVersion(t, r); v != a {
			t.Fatalf("with a held, serving %s, want %s", v, a)
		}
		if _, err := r.Rollback(c); !errors.Is(err, model.ErrNothingToRollBack) {
			t.Errorf("Rollback with only a hold: %v, want ErrNothingToRollBack", err)
		}
		if _, err := r.Promote(c, b); err != nil {
			t.Fatal(err)
		}
		if p, err := r.Rollback(c); err != nil || p.Version != a {
			t.Errorf("Rollback after promoting over a hold = %q, %v; want the held %s", p.Version, err, a)
		}
	})
}

func TestSaveGivesEveryModelAVersionOfItsOwn(t *testing.T) {
	backends(t, func(t *testing.T, k kit) {
		r := New(k.open(t), nil)
		c := ctx(t)
		at := time.Now().Add(-time.Minute)
		w := model.NewWeights(4)
		first, err := r.Save(c, w, model.Meta{CreatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		second, err := r.Save(c, w, model.Meta{CreatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		if first.Version == second.Version {
			t.Fatalf("two models saved at the same instant share version %s", first.Version)
		}
		if _, err := r.Save(c, w, model.Meta{Version: first.Version}); !errors.Is(err, model.ErrVersionTaken) {
			t.Errorf("saving under a taken version: %v, want ErrVersionTaken", err)
		}
		if _, err := r.Save(c, w, model.Meta{Version: "../escape"}); err == nil {
			t.Errorf("a version that is a path was accepted")
		}
		got, meta, err := r.Load(c, first.Version)
		if err != nil || meta.WeightsSHA256 != first.WeightsSHA256 || got.DenseW[7] != w.DenseW[7] {
			t.Errorf("Load(%s) = %v, %+v; want the saved weights back", first.Version, err, meta)
		}
		if ms, _ := r.List(c); len(ms) != 2 {
			t.Errorf("List has %d models, want 2", len(ms))
		}
	})
}

func TestABrokenNewestModelDoesNotFreezeTheServer(t *testing.T) {
	backends(t, func(t *testing.T, k kit) {
		b := k.open(t)
		r := New(b, nil)
		var mu sync.Mutex
		var served []string
		kp := NewKeeper(r, func(p *model.Predictor) { mu.Lock(); served = append(served, p.Version()); mu.Unlock() }, func(string) {}, nil)
		defer kp.Close()
		old := saveAt(t, r, 1, time.Now().Add(-2*time.Hour))
		if err := kp.Load(ctx(t)); err != nil || kp.Version() != old {
			t.Fatalf("Load = %v, serving %q; want %s", err, kp.Version(), old)
		}
		newer := saveAt(t, r, 2, time.Now().Add(-time.Hour))
		k.saveCorrupt(t, b, time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC))
		kp.Load(ctx(t))
		if kp.Version() != newer {
			t.Fatalf("with a broken model dated 2999 and a newer valid one, serving %q, want %s", kp.Version(), newer)
		}
		if v, _, err := r.Served(ctx(t)); err != nil || v != newer {
			t.Errorf("the registry says %q (%v) is served; the server serves %s", v, err, newer)
		}
	})
}

func TestElectionHasOneWinnerUntilItsHolderGoes(t *testing.T) {
	backends(t, func(t *testing.T, k kit) {
		a, b := New(k.open(t), nil), New(k.open(t), nil)
		l, err := a.Elect(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Elect(ctx(t)); !errors.Is(err, ErrTrainingElsewhere) {
			t.Fatalf("second Elect: %v, want ErrTrainingElsewhere", err)
		}
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
		l2, err := b.Elect(ctx(t))
		if err != nil {
			t.Fatalf("Elect after the holder released: %v", err)
		}
		l2.Release()
	})
}

func TestWatchSeesAnotherReplicasPromote(t *testing.T) {
	backends(t, func(t *testing.T, k kit) {
		a, b := New(k.open(t), nil), New(k.open(t), nil)
		v1 := saveAt(t, a, 1, time.Now().Add(-time.Hour))
		saveAt(t, a, 2, time.Now())
		kp := NewKeeper(b, func(*model.Predictor) {}, func(string) {}, nil)
		defer kp.Close()
		if err := kp.Load(ctx(t)); err != nil {
			t.Fatal(err)
		}
		c, cancel := context.WithCancel(ctx(t))
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); kp.Watch(c, 50*time.Millisecond) }()
		defer wg.Wait()
		defer cancel()
		if _, err := a.Promote(ctx(t), v1); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the other replica serves the promoted model", 5*time.Second, func() bool { return kp.Version() == v1 })
	})
}

// waitUntil polls cond every 10ms for up to d.
func waitUntil(tb testing.TB, what string, d time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting until %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// damageInPlace flips a byte in the middle of version's weights where they
// are kept, leaving its metadata, checksum and length as they were: a
// database row changed by hand after every server checked it.
func damageInPlace(tb testing.TB, k kit, version string) {
	tb.Helper()
	if k.url == "" { // the folder
		p := filepath.Join(k.dir, version+".weights")
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		if err := os.WriteFile(p, data, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	driver, dsn, arg := "pgx", k.url, "$1"
	if path, ok := strings.CutPrefix(k.url, "sqlite:"); ok {
		driver, dsn, arg = "sqlite", path, "?"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var w []byte
	if err := db.QueryRowContext(ctx(tb), `SELECT weights FROM models WHERE version = `+arg, version).Scan(&w); err != nil {
		tb.Fatal(err)
	}
	w[len(w)/2] ^= 0xff
	q := `UPDATE models SET weights = $1 WHERE version = $2`
	if arg == "?" {
		q = `UPDATE models SET weights = ? WHERE version = ?`
	}
	if _, err := db.ExecContext(ctx(tb), q, w, version); err != nil {
		tb.Fatal(err)
	}
}

// TestAPromoteRefusedChangesNothing: a model damaged after the servers
// checked it (its checksum column and length unchanged) is refused by a
// promote, which leaves the pin where it was, and is then passed over as
// the newest model: every server of the store agrees on the valid one.
func TestAPromoteRefusedChangesNothing(t *testing.T) {
	backends(t, func(t *testing.T, k kit) {
		c := ctx(t)
		r := New(k.open(t), nil)
		good := saveAt(t, r, 1, time.Now().Add(-time.Hour))
		newer := saveAt(t, r, 2, time.Now())
		if v := currentVersion(t, r); v != newer {
			t.Fatalf("serving %s, want the newest %s", v, newer)
		}
		if _, err := r.Promote(c, good); err != nil {
			t.Fatal(err)
		}
		damageInPlace(t, k, newer)
		if _, err := r.Promote(c, newer); !errors.Is(err, model.ErrCorrupt) {
			t.Errorf("Promote(damaged) = %v, want ErrCorrupt", err)
		}
		if p, err := r.ReadPin(c); err != nil || p.Version != good || p.History[len(p.History)-1].Version != good {
			t.Errorf("after a refused promote the pin is %+v (%v), want %s as before", p, err, good)
		}
		if _, err := r.Unpin(c); err != nil {
			t.Fatal(err)
		}
		other := New(k.open(t), nil) // a replica that never saw the model whole
		for _, reg := range []*Registry{r, other} {
			if v, _, err := reg.Served(c); err != nil || v != good {
				t.Errorf("unpinned, %s serves %q (%v), want %s, not the damaged newer %s", reg.b, v, err, good, newer)
			}
		}
	})
}
