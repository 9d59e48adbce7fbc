package serve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mnistserve/app/store/storetest"
)

// predictHead is the head of a POST /predict carrying n bytes of JSON.
func predictHead(target string, n int) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", target, n)
}

// assertBusy checks a queue-full 503 as the door writes it: the same JSON
// error, Retry-After and Connection: close as the queue's own answer.
func assertBusy(tb testing.TB, name string, resp *http.Response, body []byte, err error) {
	tb.Helper()
	if err != nil {
		tb.Errorf("%s: %v, want a 503 answer", name, err)
		return
	}
	var e errorBody
	if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "server busy") {
		tb.Errorf("%s: %d %q, want 503 with a JSON error saying the server is busy", name, resp.StatusCode, body)
	}
	if resp.Header.Get("Retry-After") != "1" || !resp.Close || resp.Header.Get("Content-Type") != "application/json" {
		tb.Errorf("%s: headers %v, want Retry-After 1, Connection: close and JSON", name, resp.Header)
	}
}

func TestFullQueueRefusesPredictionsOnNewConnectionsAtTheDoor(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	logs := &syncBuffer{}
	m := &fakeModel{version: "v", delay: 2 * time.Second}
	s := New(Config{QueueLength: 1}, st, slog.New(slog.NewTextHandler(logs, nil)))
	s.SetModel(m)
	base, _, _ := startServer(t, s)
	addr := strings.TrimPrefix(base, "http://")
	body := validBody(t)

	// One request takes the only admission slot and holds it for 2 s.
	first := make(chan int, 1)
	go func() {
		resp, _, err := rawRequest(t, addr, predictHead("/predict", len(body)), body)
		if err != nil {
			first <- 0
			return
		}
		first <- resp.StatusCode
	}()
	for deadline := time.Now().Add(5 * time.Second); !s.pipe.Full(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first request never took the admission slot")
		}
	}

	t.Run("a whole request is refused at once", func(t *testing.T) {
		start := time.Now()
		resp, b, err := rawRequest(t, addr, predictHead("/predict?x=1", len(body)), body)
		assertBusy(t, "whole request", resp, b, err)
		if took := time.Since(start); took > time.Second {
			t.Errorf("refused after %v, want at once", took)
		}
	})
	t.Run("a body sent whole before reading still gets its 503", func(t *testing.T) {
		big := bytes.Repeat([]byte(" "), 3<<20)
		resp, b, err := rawRequest(t, addr, predictHead("/predict/batch", len(big)), big)
		assertBusy(t, "3 MiB body", resp, b, err)
	})
	t.Run("a request line sent in pieces is read before the answer", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		head := predictHead("/predict", len(body))
		_, _ = io.WriteString(conn, head[:6])
		time.Sleep(100 * time.Millisecond)
		_, _ = io.WriteString(conn, head[6:])
		_, _ = conn.Write(body)
		resp, b, err := readAnswer(conn)
		assertBusy(t, "request line in pieces", resp, b, err)
	})
	t.Run("probes and other routes go through", func(t *testing.T) {
		for _, target := range []string{"/healthz", "/metrics", "/model"} {
			resp, b, err := rawRequest(t, addr, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", nil)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s while the queue is full: %v %v %q, want 200", target, resp, err, b)
			}
		}
	})

	if code := <-first; code != http.StatusOK {
		t.Fatalf("the admitted request got %d, want 200", code)
	}
	for deadline := time.Now().Add(5 * time.Second); s.pipe.Full(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the admission slot was never given back")
		}
	}
	resp, b, err := rawRequest(t, addr, predictHead("/predict", len(body)), body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("a new connection once the queue has room: %v %v %q, want 200", resp, err, b)
	}
	if got := count(t, st); got != 2 {
		t.Errorf("%d rows stored, want 2: one for each 200", got)
	}

	metrics := do(t, s, http.MethodGet, "/metrics", "", nil).Body.String()
	for _, want := range []string{
		`http_requests_total{method="POST",route="/predict",status="503"} 2`,
		`http_requests_total{method="POST",route="/predict/batch",status="503"} 1`,
		// Only the two 200s went through the HTTP server's handlers.
		`http_request_duration_seconds_count{route="/predict"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Three refusals within 10 s: the first is logged at once, the others
	// wait for the next line; no line per refused request.
	if n := strings.Count(logs.String(), "queue full"); n != 1 {
		t.Errorf("%d log lines about the full queue, want 1:\n%s", n, logs)
	}
}

// readAnswer reads one HTTP answer from conn.
func readAnswer(conn net.Conn) (*http.Response, []byte, error) {
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestQueueFullRefusalsAreLoggedTogether(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	logs := &syncBuffer{}
	const n, queue = 12, 2
	s := New(Config{QueueLength: queue}, st, slog.New(slog.NewTextHandler(logs, nil)))
	t.Cleanup(s.Close)
	s.SetModel(&fakeModel{version: "v", delay: time.Second})
	busy := 0
	for _, rec := range postConcurrently(t, s, n) {
		if rec.Code == http.StatusServiceUnavailable {
			busy++
		}
	}
	if busy < n-2*queue {
		t.Fatalf("%d of %d refused, want at least %d", busy, n, n-2*queue)
	}
	text := logs.String()
	if lines := strings.Count(text, "queue full"); lines != 1 || !strings.Contains(text, "refused=1 ") {
		t.Errorf("%d lines about the full queue for %d refusals, want the first alone:\n%s", lines, busy, text)
	}
	if strings.Contains(text, "status=503") {
		t.Errorf("a request line per refusal:\n%s", text)
	}
}

func TestRequestTargetAndCompleteness(t *testing.T) {
	for _, tc := range []struct {
		head     string
		target   string
		complete bool
	}{
		{"POST /predict HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", "POST /predict", true},
		{"POST /predict?pretty HTTP/1.1\r\ncontent-length:  2 \r\nHost: x\r\n\r\n{}", "POST /predict", true},
		{"POST /predict HTTP/1.1\r\nContent-Length: 3\r\n\r\n{}", "POST /predict", false},  // body not all in
		{"POST /predict HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}{", "POST /predict", false}, // something after it
		{"POST /predict HTTP/1.1\r\nContent-Length: 2\r\n", "POST /predict", false},        // head not all in
		{"POST /predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "POST /predict", false},
		{"POST /predict HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", "POST /predict", false},
		{"POST /predict HTTP/1.1\r\n\r\n", "POST /predict", false}, // no length: let the server word it
		{"GET /healthz HTTP/1.1\r\n\r\n", "GET /healthz", false},
		{"POST /predict/batch HTTP/1.1", "", false}, // no whole line yet
		{"garbage\r\n\r\n", "", false},
	} {
		if got := requestTarget([]byte(tc.head)); got != tc.target {
			t.Errorf("requestTarget(%q) = %q, want %q", tc.head, got, tc.target)
		}
		if got := requestComplete([]byte(tc.head)); got != tc.complete {
			t.Errorf("requestComplete(%q) = %v, want %v", tc.head, got, tc.complete)
		}
	}
}
