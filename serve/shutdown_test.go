package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// startServer serves s on a free port of 127.0.0.1 until the returned
// cancel is called; done receives what Serve returned.
func startServer(t *testing.T, s *Server) (base string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() {
		ch <- s.Serve(ctx, ln)
		close(ch) // later receives, such as the cleanup's, return at once
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ch:
		case <-time.After(40 * time.Second):
			t.Error("server did not stop")
		}
	})
	return "http://" + ln.Addr().String(), cancel, ch
}

func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		const n = 20
		m := &fakeModel{version: "slow", delay: 300 * time.Millisecond}
		s := newServer(t, st, m)
		base, stop, done := startServer(t, s)
		client := checkedClient(t, 20*time.Second)

		type result struct {
			status int
			p      prediction
			err    error
		}
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range n {
			body := mustJSON(t, map[string]any{"image": rows(digitImage(i % 10))})
			wg.Go(func() {
				resp, err := client.Post(base+"/predict", "application/json", bytes.NewReader(body))
				if err != nil {
					results[i].err = err
					return
				}
				defer resp.Body.Close()
				results[i].status = resp.StatusCode
				results[i].err = json.NewDecoder(resp.Body).Decode(&results[i].p)
			})
		}
		// Shut down once every request is inside the model (batched with
		// others), not before.
		deadline := time.Now().Add(10 * time.Second)
		for m.images.Load() < n && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := m.images.Load(); got < n {
			t.Fatalf("only %d requests reached the model", got)
		}
		stop()
		wg.Wait()

		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return after shutdown")
		}
		for i, r := range results {
			if r.err != nil || r.status != http.StatusOK || r.p.ID < 1 {
				t.Errorf("request %d: status %d, answer %+v, error %v", i, r.status, r.p, r.err)
			}
		}
		if got := count(t, st); got != n {
			t.Errorf("%d rows stored, want %d", got, n)
		}
		// The listener is closed: a new request cannot get in.
		if resp, err := client.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("a request after shutdown got status %d, want a refused connection", resp.StatusCode)
		}
	})
}

func TestStartFailsOnABusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := newServer(t, errStore{}, nil)
	err = s.Start(context.Background(), ln.Addr().String())
	if err == nil {
		t.Fatal("Start on a busy address returned nil")
	}
	if want := fmt.Sprintf("listen on %s", ln.Addr()); !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("error %q, want it to name the address", err)
	}
}

// A request still in flight when the shutdown's grace period runs out is
// answered by its own deadline (a 503) before the connections are cut,
// and logged and counted as that 503: a forced shutdown never makes it
// look like a client that left (499), which the error-ratio alert would
// not count.
func TestForcedShutdownAnswersInFlightRequestsByTheirDeadline(t *testing.T) {
	var logs syncBuffer
	s := New(Config{Timeout: 1500 * time.Millisecond, ShutdownTimeout: 100 * time.Millisecond, ReadyTimeout: 100 * time.Millisecond},
		errStore{block: true}, slogTo(&logs))
	s.SetModel(&fakeModel{version: "v"})
	base, stop, done := startServer(t, s)
	body := validBody(t)
	type answer struct {
		status int
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.Post(base+"/predict", "application/json", bytes.NewReader(body))
		if err != nil {
			answered <- answer{err: err}
			return
		}
		resp.Body.Close()
		answered <- answer{status: resp.StatusCode}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s.pipe.Depth() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the request was not admitted within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	select {
	case <-done: // Serve reports the grace period's end; what matters is below
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return 10 s after the shutdown began")
	}
	if a := <-answered; a.err != nil || a.status != http.StatusServiceUnavailable {
		t.Errorf("the request in flight got status %d, error %v; want its own deadline's 503", a.status, a.err)
	}
	line := ""
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "msg=request") && strings.Contains(l, "route=/predict") {
			line = l
		}
	}
	if !strings.Contains(line, "status=503") {
		t.Errorf("log line %q, want status=503", line)
	}
	metrics := do(t, s, http.MethodGet, "/metrics", "", nil).Body.String()
	if strings.Contains(metrics, `status="499"`) {
		t.Errorf("a 499 was counted at a forced shutdown:\n%s", grepLines(metrics, "http_requests_total"))
	}
}
