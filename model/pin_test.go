package model

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// saveAt saves a model with fresh weights created at t and returns its version.
func saveAt(tb testing.TB, dir string, seed uint64, t time.Time) string {
	tb.Helper()
	m, err := Save(dir, NewWeights(seed), Meta{CreatedAt: t})
	if err != nil {
		tb.Fatal(err)
	}
	return m.Version
}

// currentVersion is the version Current loads, failing on an error.
func currentVersion(tb testing.TB, dir string) string {
	tb.Helper()
	_, m, err := Current(dir)
	if err != nil {
		tb.Fatalf("Current: %v", err)
	}
	return m.Version
}

func TestPromoteRollbackAndUnpinMoveTheServedModel(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	a := saveAt(t, dir, 1, now.Add(-3*time.Hour))
	b := saveAt(t, dir, 2, now.Add(-2*time.Hour))
	c := saveAt(t, dir, 3, now.Add(-time.Hour))
	if v := currentVersion(t, dir); v != c {
		t.Fatalf("unpinned folder serves %s, want the newest %s", v, c)
	}
	steps := []struct {
		name   string
		do     func() (Pin, error)
		served string
		pinned string
	}{
		{"promoting a pins it", func() (Pin, error) { return Promote(dir, a) }, a, a},
		{"promoting b pins it", func() (Pin, error) { return Promote(dir, b) }, b, b},
		{"rollback returns to a, served before b's promote", func() (Pin, error) { return Rollback(dir) }, a, a},
		{"a second rollback returns to c, served before a's promote", func() (Pin, error) { return Rollback(dir) }, c, c},
		{"promoting b again pins it", func() (Pin, error) { return Promote(dir, b) }, b, b},
		{"unpin serves the newest again", func() (Pin, error) { return Unpin(dir) }, c, ""},
		{"rollback after unpin returns to the model served before the last promote", func() (Pin, error) { return Rollback(dir) }, c, c},
	}
	for _, st := range steps {
		p, err := st.do()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		read, err := ReadPin(dir)
		if err != nil {
			t.Fatal(err)
		}
		if p.Version != st.pinned || read.Version != st.pinned {
			t.Errorf("%s: pin %q (file %q), want %q", st.name, p.Version, read.Version, st.pinned)
		}
		if v := currentVersion(t, dir); v != st.served {
			t.Errorf("%s: serves %s, want %s", st.name, v, st.served)
		}
		if target, pinned, _ := Target(dir); target != st.served || pinned != (st.pinned != "") {
			t.Errorf("%s: Target = %s pinned %v, want %s", st.name, target, pinned, st.served)
		}
	}
	if p, _ := ReadPin(dir); len(p.History) != len(steps) || p.History[1].Previous != a || p.History[1].Action != "promote" {
		t.Errorf("history %+v, want %d events, the second promoting b over a", p.History, len(steps))
	}
}

func TestPinRefusesWhatCannotBeServed(t *testing.T) {
	dir := t.TempDir()
	good := saveAt(t, dir, 1, time.Now().Add(-time.Hour))
	if _, err := Rollback(dir); !errors.Is(err, ErrNothingToRollBack) {
		t.Errorf("Rollback with no history: %v, want ErrNothingToRollBack", err)
	}
	if _, err := Promote(dir, "no-such-version"); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("Promote(unknown) = %v, want ErrUnknownVersion", err)
	}
	bad, err := Save(dir, NewWeights(2), Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, bad.WeightsFile), []byte("MNISTCNN broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Promote(dir, bad.Version); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Promote(corrupt) = %v, want ErrCorrupt", err)
	}
	if p, _ := ReadPin(dir); p.Version != "" {
		t.Errorf("a refused promote pinned %q", p.Version)
	}
	if ms := List(dir); len(ms) != 1 || ms[0].Version != good {
		t.Errorf("List = %v, want only the valid %s", ms, good)
	}
	// good was served as the newest valid model before its own promote,
	// so rolling that promote back pins good.
	if _, err := Promote(dir, good); err != nil {
		t.Fatal(err)
	}
	if p, err := Rollback(dir); err != nil || p.Version != good {
		t.Errorf("Rollback = %+v, %v; want %s", p, err, good)
	}
}

func TestAPinFileIsNotAModel(t *testing.T) {
	dir := t.TempDir()
	v := saveAt(t, dir, 1, time.Now())
	if _, err := Promote(dir, v); err != nil {
		t.Fatal(err)
	}
	if NewestVersion(dir) != v || len(candidates(dir)) != 1 {
		t.Errorf("the pin file is listed among the models: %v", candidates(dir))
	}
}

func TestAHeldModelIsPinnedButNotRolledBackTo(t *testing.T) {
	dir := t.TempDir()
	a := saveAt(t, dir, 1, time.Now().Add(-time.Hour))
	if _, err := Hold(dir, a); err != nil {
		t.Fatal(err)
	}
	b := saveAt(t, dir, 2, time.Now()) // newest, but a is held
	if v := currentVersion(t, dir); v != a {
		t.Fatalf("with a held, serving %s, want %s", v, a)
	}
	if _, err := Rollback(dir); !errors.Is(err, ErrNothingToRollBack) {
		t.Errorf("Rollback with only a hold: %v, want ErrNothingToRollBack", err)
	}
	if _, err := Promote(dir, b); err != nil {
		t.Fatal(err)
	}
	if p, err := Rollback(dir); err != nil || p.Version != a {
		t.Errorf("Rollback after promoting over a hold = %q, %v; want the held %s", p.Version, err, a)
	}
}

func TestLoadPredictorFollowsThePin(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	old := saveAt(t, dir, 1, now.Add(-2*time.Hour))
	newest := saveAt(t, dir, 2, now.Add(-time.Hour))
	for _, tc := range []struct {
		name string
		pin  func() error
		want string
	}{
		{"an unpinned folder gives the newest", func() error { return nil }, newest},
		{"a pinned older model is the one loaded", func() error { _, err := Promote(dir, old); return err }, old},
		{"unpinning gives the newest again", func() error { _, err := Unpin(dir); return err }, newest},
	} {
		if err := tc.pin(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p, err := LoadPredictor(dir, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if p.Version() != tc.want {
			t.Errorf("%s: loaded %s, want %s", tc.name, p.Version(), tc.want)
		}
		p.Close()
	}
}
