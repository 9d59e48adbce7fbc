package registry

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnistserve/app/model"
)

// TestAnUnchangedFolderIsNotReadAgain: a model is read and hashed once,
// not at every watch tick, and a weights file of the wrong size is
// refused without being read at all.
func TestAnUnchangedFolderIsNotReadAgain(t *testing.T) {
	dir := t.TempDir()
	f := NewFolder(dir)
	r := New(f, nil)
	good := saveAt(t, r, 1, time.Now().Add(-time.Hour))
	big := saveAt(t, r, 2, time.Now())
	wpath := filepath.Join(dir, big+".weights")
	if err := os.Truncate(wpath, 300<<20); err != nil { // a 300 MB weights file
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if v := currentVersion(t, r); v != good {
			t.Fatalf("serving %s, want %s (the other's weights are 300 MB)", v, good)
		}
	}
	if f.loads != 2 {
		t.Errorf("five scans of an unchanged folder checked %d models, want the 2 once each", f.loads)
	}
	// A change is seen: the weights put back makes the newer model valid.
	if err := os.Remove(wpath); err != nil {
		t.Fatal(err)
	}
	w, _, _ := r.Load(ctx(t), good)
	data, meta := encodeFor(t, w)
	if err := os.WriteFile(wpath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	rewriteMeta(t, dir, big, func(m *model.Meta) { m.WeightsSHA256 = meta.WeightsSHA256 })
	if v := currentVersion(t, r); v != big {
		t.Errorf("after the weights were fixed, serving %s, want %s", v, big)
	}
}

// TestASecondFileCannotClaimAVersion: a .json claiming the served model's
// version while pointing at other weights is refused; the version is
// listed once, and promoting it loads its own weights.
func TestASecondFileCannotClaimAVersion(t *testing.T) {
	dir := t.TempDir()
	r := New(NewFolder(dir), nil)
	served := saveAt(t, r, 1, time.Now().Add(-time.Hour))
	other, err := r.Save(ctx(t), model.NewWeights(2), model.Meta{CreatedAt: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var m model.Meta
	js, _ := os.ReadFile(filepath.Join(dir, other.Version+".json"))
	json.Unmarshal(js, &m)
	m.Version = served // claims the served version, keeps the other weights
	js, _ = json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "impostor.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	ms, err := r.List(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, x := range ms {
		if x.Version == served {
			count++
		}
	}
	if count != 1 || len(ms) != 2 {
		t.Errorf("List = %d models, %s %d times; want 2 models, %s once", len(ms), served, count, served)
	}
	if _, err := r.Promote(ctx(t), served); err != nil {
		t.Fatal(err)
	}
	_, meta, err := r.Current(ctx(t))
	if err != nil || meta.Version != served || meta.WeightsSHA256 == other.WeightsSHA256 {
		t.Errorf("promoted %s serves %+v, %v; want its own weights, not %s's", served, meta, err, other.Version)
	}
}

// encodeFor returns w encoded as a weights file and its completed metadata.
func encodeFor(tb testing.TB, w *model.Weights) ([]byte, model.Meta) {
	tb.Helper()
	var meta model.Meta
	data, err := model.Complete(w, &meta)
	if err != nil {
		tb.Fatal(err)
	}
	return data, meta
}

// rewriteMeta edits the metadata file of version in dir.
func rewriteMeta(tb testing.TB, dir, version string, edit func(*model.Meta)) {
	tb.Helper()
	path := filepath.Join(dir, version+".json")
	var m model.Meta
	js, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(js, &m); err != nil {
		tb.Fatal(err)
	}
	edit(&m)
	js, _ = json.Marshal(m)
	if err := os.WriteFile(path, js, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// TestAModelWhoseWeightsFileIsMissingIsNotValid: metadata naming a weights
// file that is not there is a model that does not load (ErrCorrupt, which
// the front doors answer 404 / NotFound), never a store failure (500).
func TestAModelWhoseWeightsFileIsMissingIsNotValid(t *testing.T) {
	dir := t.TempDir()
	r := New(NewFolder(dir), nil)
	good := saveAt(t, r, 1, time.Now().Add(-time.Hour))
	ghost := saveAt(t, r, 2, time.Now())
	if err := os.Remove(filepath.Join(dir, ghost+".weights")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Load(ctx(t), ghost); !errors.Is(err, model.ErrCorrupt) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Load(no weights file) = %v, want ErrCorrupt saying the file is missing", err)
	}
	if _, err := r.Promote(ctx(t), ghost); !errors.Is(err, model.ErrCorrupt) {
		t.Errorf("Promote(no weights file) = %v, want ErrCorrupt", err)
	}
	if v := currentVersion(t, r); v != good {
		t.Errorf("serving %s, want the valid %s", v, good)
	}
}
