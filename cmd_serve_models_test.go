package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/model"
)

// servedVersion returns the version GET /model reports ("" when none).
func servedVersion(base string) string {
	code, body := testutil.Get(base + "/model")
	if code != 200 {
		return ""
	}
	var m model.Meta
	json.Unmarshal([]byte(body), &m)
	return m.Version
}

func TestServeSwapsInANewerModelWithoutARestart(t *testing.T) {
	dir := t.TempDir()
	models := filepath.Join(dir, "models")
	first, err := model.Save(models, model.NewWeights(1), model.Meta{CreatedAt: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	base := "http://" + addr
	logs, stop, done := runServeInBackground(t, "--addr", addr, "--models", models,
		"--db", "sqlite:"+filepath.Join(dir, "p.db"), "--watch", "100ms")
	waitFor(t, "the first model to be served", 20*time.Second, func() bool { return servedVersion(base) == first.Version })

	// A corrupt newer model is refused; the current one stays.
	bad, err := model.Save(models, model.NewWeights(2), model.Meta{CreatedAt: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	corrupt(t, filepath.Join(models, bad.WeightsFile))
	time.Sleep(400 * time.Millisecond)
	if v := servedVersion(base); v != first.Version {
		t.Fatalf("after a corrupt newer model, serving %q, want still %q", v, first.Version)
	}

	second, err := model.Save(models, model.NewWeights(3), model.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the newer model to be served", 10*time.Second, func() bool { return servedVersion(base) == second.Version })
	stop()
	if err := <-done; err != nil {
		t.Fatalf("runServe returned %v", err)
	}
	if !strings.Contains(logs.String(), "did not load") || !strings.Contains(logs.String(), bad.Version) {
		t.Errorf("the corrupt model was not reported in the log:\n%s", logs.String())
	}
	// One log line per model load, not one from each layer.
	for _, v := range []string{first.Version, second.Version} {
		if n := strings.Count(logs.String(), `msg="serving model" version=`+v); n != 1 {
			t.Errorf("%d log lines say model %s is served, want 1:\n%s", n, v, logs.String())
		}
	}
}

func TestTwoServersSharingAnEmptyModelFolderTrainOneModel(t *testing.T) {
	dir := t.TempDir()
	models := filepath.Join(dir, "models")
	var bases []string
	var dones []<-chan error
	var stops []func()
	for i, db := range []string{"a.db", "b.db"} {
		addr := freeAddr(t)
		bases = append(bases, "http://"+addr)
		_, stop, done := runServeInBackground(t, "--addr", addr, "--models", models, "--data", testutil.MNISTFixture(t),
			"--db", "sqlite:"+filepath.Join(dir, db), "--train-epochs", "2", "--watch", "200ms")
		stops, dones = append(stops, stop), append(dones, done)
		// let the first take the lock, as one replica always does first
		waitFor(t, "the server to start", 20*time.Second, func() bool { code, _ := testutil.Get(bases[i] + "/healthz"); return code == 200 })
	}
	_, body := testutil.Get(bases[1] + "/readyz")
	if !strings.Contains(body, "another server is training") && servedVersion(bases[1]) == "" {
		t.Errorf("second server's /readyz says %q, want it waiting for the other's training", body)
	}
	for _, b := range bases {
		waitFor(t, b+" to serve a model", 2*time.Minute, func() bool { return servedVersion(b) != "" })
	}
	if a, b := servedVersion(bases[0]), servedVersion(bases[1]); a != b {
		t.Errorf("the servers serve %q and %q, want the same model", a, b)
	}
	if metas, _ := filepath.Glob(filepath.Join(models, "*.json")); len(metas) != 1 {
		t.Errorf("the folder holds %d models, want the one trained once", len(metas))
	}
	for i, stop := range stops {
		stop()
		if err := <-dones[i]; err != nil {
			t.Errorf("server %d returned %v", i, err)
		}
	}
}

// corrupt flips a byte in the middle of a file.
func corrupt(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
