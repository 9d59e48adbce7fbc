package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/train"
)

// parseServeFlags parses args as `app serve` does, with the process's
// environment, and validates the result.
func parseServeFlags(args []string) (serveConfig, error) {
	fs := newFlagSet("serve", io.Discard)
	cfg := defaultServeConfig()
	cfg.flags(fs)
	if err := fs.parse(args, os.Getenv, cmdServe.Args); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

func TestServeConfigFlagsOverrideEnvOverrideDefaults(t *testing.T) {
	t.Setenv("PORT", "6001")
	t.Setenv("DATABASE_URL", "postgres://env@db/app")
	t.Setenv("MODEL_DIR", "/env/models")
	t.Setenv("MNIST_DIR", "")
	cfg, err := parseServeFlags([]string{"--db", "sqlite:flag.db", "--max-body", "2MiB", "--timeout", "3s", "--train-epochs", "2"})
	if err != nil {
		t.Fatal(err)
	}
	want := defaultServeConfig()
	want.Addr, want.DB, want.Train.ModelDir = ":6001", "sqlite:flag.db", "/env/models"
	want.Serve.MaxBody, want.Serve.Timeout, want.Train.Epochs = 2<<20, 3*time.Second, 2
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config %+v, want %+v", cfg, want)
	}
	if want.Train.DataDir != "data/mnist" || !reflect.DeepEqual(defaultServeConfig().Train, train.DefaultConfig()) {
		t.Errorf("defaults %+v: want train's defaults", want)
	}
}

func TestServeFlagsRefuseBadValues(t *testing.T) {
	for _, args := range [][]string{
		{"--max-body", "0"},
		{"--max-body", "lots"},
		{"--timeout", "-1s"},
		{"--train-epochs", "0"},
		{"--train-limit", "-3"},
		{"--watch", "-1s"},
		{"stray"},
		{"--open-predict"}, // without --keys
		{"--rate", "-1"},
		{"--burst", "-5"},
		{"--retain", "-1h"},
		{"--trusted-proxies", "10.0.0.0/33"},
		{"--trusted-proxies", "nginx"},
		{"--cors-origins", "*"},
		{"--cors-origins", "https://example.org/path"},
		{"--addr", ""},                           // no port: a random one on every interface
		{"--addr", "5000"},                       // no colon
		{"--max-delay", "1h"},                    // past the default --timeout: every request would time out
		{"--max-delay", "2s", "--timeout", "2s"}, // as long as it
	} {
		if _, err := parseServeFlags(args); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

func TestServeAccessFlags(t *testing.T) {
	t.Setenv("API_KEYS_FILE", "/run/secrets/keys.json")
	cfg, err := parseServeFlags([]string{"--open-predict", "--rate", "2.5", "--retain", "720h",
		"--trusted-proxies", "172.28.0.0/24, 10.1.2.3", "--cors-origins", "https://a.example,http://b.example:8080/"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Keys != "/run/secrets/keys.json" || !cfg.Serve.OpenPredict || cfg.Retain != 720*time.Hour {
		t.Errorf("keys %q, open-predict %v, retain %v", cfg.Keys, cfg.Serve.OpenPredict, cfg.Retain)
	}
	if cfg.Serve.Rate != 2.5 || cfg.Serve.Burst != 3 {
		t.Errorf("rate %v burst %d, want 2.5 and the rate rounded up, 3", cfg.Serve.Rate, cfg.Serve.Burst)
	}
	var nets []string
	for _, n := range cfg.Serve.TrustedProxies {
		nets = append(nets, n.String())
	}
	if got := strings.Join(nets, " "); got != "172.28.0.0/24 10.1.2.3/32" {
		t.Errorf("trusted proxies %q", got)
	}
	if got := strings.Join(cfg.Serve.CORSOrigins, " "); got != "https://a.example http://b.example:8080" {
		t.Errorf("CORS origins %q", got)
	}
}

func TestByteSizeReadsUnits(t *testing.T) {
	for in, want := range map[string]byteSize{"1048576": 1 << 20, "1MiB": 1 << 20, "512KiB": 512 << 10, "3M": 3 << 20, "64K": 64 << 10, "100B": 100} {
		var b byteSize
		if err := b.Set(in); err != nil || b != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
}

func TestTrainHooksPutTheEpochIntoThe503MessageAndLogEachEpochOnce(t *testing.T) {
	srv := serve.New(serve.Config{}, nil, nil)
	var logs bytes.Buffer
	h := trainHooks(srv, slog.New(slog.NewTextHandler(&logs, nil)))
	for step := 1; step <= 3; step++ {
		h.OnStep(train.Step{Epoch: 3, Epochs: 15, Step: step, Steps: 3})
	}
	if got := srv.Status(); !strings.Contains(got, "model is training (first boot, epoch 3/15)") {
		t.Errorf("status %q, want it to name epoch 3/15", got)
	}
	h.OnEpoch(train.EpochStats{Epoch: 3, Epochs: 15, Loss: 0.25, ValAcc: 0.97})
	if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "epoch=3 epochs=15 loss=0.25") {
		t.Errorf("want one log line for epoch 3, got %d:\n%s", n, logs.String())
	}
}

// syncBuffer is a log sink safe to read while the server writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr returns an address of 127.0.0.1 that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runServeInBackground starts `app serve args...` and returns its log, a
// stop function, and a channel with what runServe returned.
func runServeInBackground(t *testing.T, args ...string) (*syncBuffer, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- cmdServe.run(ctx, args, os.Getenv, io.Discard, logs) }()
	t.Cleanup(cancel)
	return logs, cancel, done
}

// waitFor polls until cond is true or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %v waiting for %s", timeout, what)
}

func TestServeTrainsOnFirstBootThenServesAndStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping first-boot training")
	}
	dir := t.TempDir()
	models := filepath.Join(dir, "models")
	dbURL := "sqlite:" + filepath.Join(dir, "predictions.db")
	addr := freeAddr(t)
	base := "http://" + addr
	args := []string{"--addr", addr, "--models", models, "--data", testutil.MNISTFixture(t), "--db", dbURL,
		"--train-epochs", "1"}

	logs, stop, done := runServeInBackground(t, args...)
	waitFor(t, "/healthz", 20*time.Second, func() bool { code, _ := testutil.Get(base + "/healthz"); return code == 200 })
	sawTraining := false
	waitFor(t, "/readyz to turn 200", 3*time.Minute, func() bool {
		code, body := testutil.Get(base + "/readyz")
		if code == 503 && strings.Contains(body, "model is training") {
			sawTraining = true
		}
		return code == 200
	})
	if !sawTraining {
		t.Errorf("/readyz never said training was under way; log:\n%s", logs.String())
	}

	body, _ := json.Marshal(map[string]any{"image": make([]int, 784)})
	resp, err := http.Post(base+"/predict", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /predict after training: status %d", resp.StatusCode)
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runServe returned %v, want nil", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("runServe did not return after cancel")
	}
	for _, want := range []string{"first-boot training done", "server stopped", "database closed"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if metas, _ := filepath.Glob(filepath.Join(models, "*.json")); len(metas) != 1 {
		t.Errorf("models folder holds %v, want one model", metas)
	}
	st, err := store.Open(context.Background(), dbURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, err := st.Count(context.Background()); err != nil || n != 1 {
		t.Errorf("%d rows (%v) after stop, want the 1 prediction", n, err)
	}

	// Second boot: the saved model is served at once, without training.
	logs, stop, done = runServeInBackground(t, args...)
	waitFor(t, "/readyz on second boot", 20*time.Second, func() bool { code, _ := testutil.Get(base + "/readyz"); return code == 200 })
	stop()
	if err := <-done; err != nil {
		t.Errorf("second runServe returned %v", err)
	}
	if strings.Contains(logs.String(), "training") {
		t.Errorf("second boot trained again:\n%s", logs.String())
	}
}

func TestServeFailsClearlyWhenFirstBootCannotTrain(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "no-mnist")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	_, _, done := runServeInBackground(t, "--addr", freeAddr(t), "--models", filepath.Join(dir, "models"),
		"--data", empty, "--db", "sqlite:"+filepath.Join(dir, "p.db"))
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "first-boot training") {
			t.Errorf("runServe returned %v, want a first-boot training error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("runServe kept running without training data")
	}
}

func TestOpenStoreRetriesAnUnreachableDatabaseThenGivesUp(t *testing.T) {
	var logs bytes.Buffer
	start := time.Now()
	_, err := openStore(context.Background(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable", 3*time.Second, slog.New(slog.NewTextHandler(&logs, nil)))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("error %v, want one wrapping store.ErrUnavailable", err)
	}
	if took := time.Since(start); took < 2*time.Second || took > 15*time.Second {
		t.Errorf("gave up after %v, want after the 3 s patience", took)
	}
	if !strings.Contains(logs.String(), "database unavailable, retrying") {
		t.Errorf("no retry in the log:\n%s", logs.String())
	}

	// A URL that can never work is not retried.
	start = time.Now()
	if _, err := openStore(context.Background(), "mysql://x", time.Minute, slog.New(slog.DiscardHandler)); err == nil || time.Since(start) > time.Second {
		t.Errorf("bad URL: error %v after %v, want an immediate error", err, time.Since(start))
	}
}
