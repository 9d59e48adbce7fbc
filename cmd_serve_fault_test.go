package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// childEnv makes the test binary run main() instead of the tests, so that a
// test can start `app serve` as a real process and signal it.
const childEnv = "APP_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// startApp starts `app args...` as a child process; its log goes to the
// returned buffer. The process is killed at cleanup if still running.
func startApp(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, logs
}

// loadResult is what a load run saw.
type loadResult struct {
	ids    []int64 // answered 200
	others []int   // statuses other than 200 (errors without an answer are not counted)
}

// hammer posts /predict from several goroutines until stop is closed, and
// keeps every id answered 200; wait returns once they have all stopped.
func hammer(base string, stop <-chan struct{}) (res *loadResult, wait func()) {
	var mu sync.Mutex
	res = &loadResult{}
	var wg sync.WaitGroup
	img := make([][]int, 28)
	for r := range img {
		img[r] = make([]int, 28)
		img[r][r] = 255
	}
	body, _ := json.Marshal(map[string]any{"image": img})
	client := &http.Client{Timeout: 40 * time.Second}
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(base+"/predict", "application/json", bytes.NewReader(body))
				if err != nil {
					time.Sleep(10 * time.Millisecond) // refused: the server is gone or going
					continue
				}
				var p struct{ ID int64 }
				derr := json.NewDecoder(resp.Body).Decode(&p)
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode == http.StatusOK && derr == nil {
					res.ids = append(res.ids, p.ID)
				} else {
					res.others = append(res.others, resp.StatusCode)
				}
				mu.Unlock()
			}
		})
	}
	return res, wg.Wait
}

// assertStored fails unless every id is in the database at url.
func assertStored(t *testing.T, url string, ids []int64) {
	t.Helper()
	st, err := store.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatalf("reopen %s: %v", url, err)
	}
	defer st.Close()
	for _, id := range ids {
		if _, err := st.Get(context.Background(), id); err != nil {
			t.Errorf("id %d was answered 200 but is not stored: %v", id, err)
		}
	}
}

func TestServeUnderLoadSurvivesSIGTERMAndSIGKILL(t *testing.T) {
	models := t.TempDir()
	saveModel(t, models, 1, time.Now())
	for _, kind := range []string{"sqlite", "postgres"} {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			t.Run(fmt.Sprintf("%s, %v", kind, sig), func(t *testing.T) {
				url := "sqlite:" + filepath.Join(t.TempDir(), "p.db")
				if kind == "postgres" {
					url = storetest.PostgresURL(t)
				}
				addr := freeAddr(t)
				base := "http://" + addr
				cmd, logs := startApp(t, "serve", "--addr", addr, "--db", url, "--models", models, "--watch", "0")
				waitFor(t, "the server to be ready", 60*time.Second, func() bool { c, _ := testutil.Get(base + "/readyz"); return c == 200 })

				stop := make(chan struct{})
				res, wait := hammer(base, stop)
				time.Sleep(1500 * time.Millisecond) // under load
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				select {
				case err := <-exited:
					if sig == syscall.SIGTERM && err != nil {
						t.Errorf("exit after SIGTERM: %v, want status 0; log:\n%s", err, logs.String())
					}
				case <-time.After(45 * time.Second): // the shutdown timeout is 30 s
					t.Fatalf("still running 45 s after %v", sig)
				}
				close(stop)
				wait()
				if len(res.ids) < 10 {
					t.Fatalf("only %d requests answered 200 before the signal: no load", len(res.ids))
				}
				for _, s := range res.others {
					if sig == syscall.SIGTERM {
						t.Errorf("a request got status %d during the graceful stop, want 200 or a refused connection", s)
					}
				}
				assertStored(t, url, res.ids)
				t.Logf("%d requests answered 200 before %v, all stored", len(res.ids), sig)
			})
		}
	}
}
