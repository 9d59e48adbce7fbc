package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnistserve/app/model"
)

// saveModel saves a model with fresh weights created at t in dir.
func saveModel(t *testing.T, dir string, seed uint64, at time.Time) model.Meta {
	t.Helper()
	m, err := model.Save(dir, model.NewWeights(seed), model.Meta{CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// runApp runs an app command line and returns its exit code and its
// stdout and stderr together.
func runApp(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := dispatch(context.Background(), args, &out, &out)
	return code, out.String()
}

func TestReplicasSharingAFolderFollowThePin(t *testing.T) {
	dir := t.TempDir()
	models := filepath.Join(dir, "models")
	old := saveModel(t, models, 1, time.Now().Add(-time.Hour))
	newest := saveModel(t, models, 2, time.Now())
	const watch = 200 * time.Millisecond
	var bases []string
	for _, db := range []string{"a.db", "b.db"} {
		addr := freeAddr(t)
		bases = append(bases, "http://"+addr)
		runServeInBackground(t, "--addr", addr, "--models", models, "--db", "sqlite:"+filepath.Join(dir, db), "--watch", watch.String())
	}
	// Within a few intervals: the watcher ticks every interval, so a change
	// is seen within one, plus the time to load under a busy CPU.
	within := 10 * watch
	allServe := func(what, v string) {
		t.Helper()
		for _, b := range bases {
			waitFor(t, b+" to serve "+what, within+20*time.Second, func() bool { return servedVersion(b) == v })
		}
	}
	allServe("the newest model", newest.Version)

	if code, out := runApp(t, "models", "promote", old.Version, "--models", models); code != 0 || !strings.Contains(out, "pinned "+old.Version) {
		t.Fatalf("app models promote: exit %d: %s", code, out)
	}
	start := time.Now()
	allServe("the promoted model", old.Version)
	if d := time.Since(start); d > within {
		t.Errorf("replicas took %v to follow the pin, want within %v", d, within)
	}
	code, out := runApp(t, "models", "list", "--models", models)
	if code != 0 || !strings.Contains(out, old.Version+"  served,pinned") || !strings.Contains(out, newest.Version+"  -") {
		t.Errorf("app models list after promote: exit %d:\n%s", code, out)
	}

	// Rolled back over HTTP on one replica: the other follows.
	resp, err := http.Post(bases[0]+"/models/rollback", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || servedVersion(bases[0]) != newest.Version {
		t.Fatalf("POST /models/rollback: %d, serving %s; want 200 and %s at once", resp.StatusCode, servedVersion(bases[0]), newest.Version)
	}
	allServe("the model served before the promote", newest.Version)

	// Unpinned, a model saved later wins again, as before pins existed.
	if code, out := runApp(t, "models", "unpin", "--models", models); code != 0 {
		t.Fatalf("app models unpin: exit %d: %s", code, out)
	}
	later := saveModel(t, models, 3, time.Now().Add(time.Minute))
	allServe("a newer model once unpinned", later.Version)

	for _, bad := range [][]string{
		{"models", "promote", "no-such-version", "--models", models},
		{"models", "rollback", "--models", t.TempDir()},
	} {
		if code, out := runApp(t, bad...); code != 1 || !strings.Contains(out, "app models:") {
			t.Errorf("%v: exit %d, %s; want 1 and a message", bad, code, out)
		}
	}
	for _, tc := range []struct {
		args  []string
		words string // what the message names; "" for the usage alone
	}{
		{[]string{"models"}, ""},
		{[]string{"models", "promote"}, "models promote takes one argument"},
		{[]string{"models", "frobnicate"}, `unknown action "frobnicate"`},
		{[]string{"models", "list", "extra"}, `models list takes no argument, got ["extra"]`},
	} {
		if code, out := runApp(t, tc.args...); code != 2 || !strings.Contains(out, tc.words) {
			t.Errorf("%v: exit %d, want 2 (usage) saying %q:\n%s", tc.args, code, tc.words, out)
		}
	}
}

func TestServeRetriesANewestModelWhoseWeightsArriveAfterItsMetadata(t *testing.T) {
	dir := t.TempDir()
	models, staging := filepath.Join(dir, "models"), filepath.Join(dir, "staging")
	first := saveModel(t, models, 1, time.Now().Add(-time.Hour))
	addr := freeAddr(t)
	base := "http://" + addr
	runServeInBackground(t, "--addr", addr, "--models", models, "--db", "sqlite:"+filepath.Join(dir, "p.db"), "--watch", "100ms")
	waitFor(t, "the first model to be served", 20*time.Second, func() bool { return servedVersion(base) == first.Version })

	// As `cp staging/* models/` does: the .json sorts first, so it lands
	// before its weights.
	next := saveModel(t, staging, 2, time.Now())
	copyFile(t, filepath.Join(staging, next.Version+".json"), filepath.Join(models, next.Version+".json"))
	time.Sleep(500 * time.Millisecond) // several watch intervals with the weights missing
	if v := servedVersion(base); v != first.Version {
		t.Fatalf("with the weights missing, serving %q, want still %q", v, first.Version)
	}
	copyFile(t, filepath.Join(staging, next.WeightsFile), filepath.Join(models, next.WeightsFile))
	waitFor(t, "the model to be served once its weights arrive", 20*time.Second, func() bool { return servedVersion(base) == next.Version })
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestModelsListLeavesOutSupersededCheckpoints(t *testing.T) {
	models := filepath.Join(t.TempDir(), "models")
	save := func(seed uint64, age time.Duration, cp *model.Checkpoint) model.Meta {
		m, err := model.Save(models, model.NewWeights(seed), model.Meta{CreatedAt: time.Now().Add(-age), Checkpoint: cp})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	early := save(1, 3*time.Minute, &model.Checkpoint{Epoch: 1, Epochs: 15})
	later := save(2, 2*time.Minute, &model.Checkpoint{Epoch: 3, Epochs: 15})

	// While training goes on, the newest checkpoint is served and listed.
	code, out := runApp(t, "models", "list", "--models", models)
	if code != 0 || !strings.Contains(out, later.Version) || !strings.Contains(out, "served,checkpoint(3/15)") ||
		strings.Contains(out, early.Version) || !strings.Contains(out, "(1 early checkpoints of a first boot not shown)") {
		t.Fatalf("app models list during training: exit %d:\n%s", code, out)
	}
	// Once the finished model is saved, both checkpoints are left out.
	final := save(3, time.Minute, nil)
	code, out = runApp(t, "models", "list", "--models", models)
	if code != 0 || !strings.Contains(out, final.Version) || strings.Contains(out, later.Version) ||
		!strings.Contains(out, "(2 early checkpoints of a first boot not shown)") {
		t.Fatalf("app models list after training: exit %d:\n%s", code, out)
	}
}
