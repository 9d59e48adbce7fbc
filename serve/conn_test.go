package serve

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mnistserve/app/store/storetest"
)

// rawRequest writes head and then the whole body on a fresh connection to
// addr before reading anything, as Python's urllib does, and returns the
// answer it reads back.
func rawRequest(tb testing.TB, addr, head string, body []byte) (*http.Response, []byte, error) {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	// A small send buffer, as a remote client's path has: the body cannot
	// all sit in kernel buffers, so the write completes only if the server
	// reads it.
	_ = conn.(*net.TCPConn).SetWriteBuffer(32 << 10)
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		return nil, nil, fmt.Errorf("write head: %w", err)
	}
	if _, err := conn.Write(body); err != nil {
		return nil, nil, fmt.Errorf("write body: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("read answer: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestOversizedBodyGets413EvenWhenSentWholeBeforeReading(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "v"})
	base, _, _ := startServer(t, s)
	addr := strings.TrimPrefix(base, "http://")
	for _, tc := range []struct {
		name string
		size int
		head func(size int) string
	}{
		{"3 MiB with Content-Length and Connection: close", 3 << 20, func(n int) string {
			return fmt.Sprintf("POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", n)
		}},
		{"1.3 MB with Content-Length", 1_300_000, func(n int) string {
			return fmt.Sprintf("POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", n)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("1,"), tc.size/2)
			for try := range 5 {
				resp, b, err := rawRequest(t, addr, tc.head(tc.size), body)
				if err != nil {
					t.Fatalf("try %d: %v (want a 413 answer, not a broken connection)", try, err)
				}
				if resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(b, []byte(`"error":"body is larger than the limit of 1 MiB"`)) {
					t.Fatalf("try %d: %d %s, want 413 with the JSON error", try, resp.StatusCode, b)
				}
			}
		})
	}
	t.Run("chunked without Content-Length", func(t *testing.T) {
		var chunked bytes.Buffer
		chunk := bytes.Repeat([]byte("1,"), 32<<10)
		for range 48 { // 3 MiB in 64 KiB chunks
			fmt.Fprintf(&chunked, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		chunked.WriteString("0\r\n\r\n")
		resp, b, err := rawRequest(t, addr, "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", chunked.Bytes())
		if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("answer %v %s, %v; want 413", resp, b, err)
		}
	})
	if n := count(t, st); n != 0 {
		t.Errorf("%d rows stored from refused bodies", n)
	}
}

func TestClientThatNeverReadsIsCutOffByTheWriteTimeout(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := New(Config{WriteTimeout: 500 * time.Millisecond}, st, nil)
	t.Cleanup(s.Close)
	s.SetModel(&fakeModel{version: "v"})
	base, _, _ := startServer(t, s)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	// Pipeline far more answers than the socket buffers hold, never reading.
	const sent = 3000
	req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	go func() { _, _ = io.WriteString(conn, strings.Repeat(req, sent)) }()
	time.Sleep(3 * time.Second) // well past the write timeout

	// Had the server kept the connection, reading now would let it answer
	// all the requests and then wait, idle, for more: the read would time
	// out. Cut off, the connection ends after what was already sent.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after the write timeout (read %d bytes)", len(got))
	}
	if answers := bytes.Count(got, []byte("HTTP/1.1 200")); answers >= sent {
		t.Errorf("all %d requests answered; want the connection cut off before", sent)
	}
}

func TestHeadAnswersEveryGetRouteWithoutABody(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "v"})
	p := postDigits(t, s, 4)
	for _, target := range []string{"/", "/welcome", "/healthz", "/readyz", "/model", "/predictions", "/predictions/" + itoa(p[0].ID), "/predictions/" + itoa(p[0].ID) + "/image.png", "/metrics"} {
		get := do(t, s, http.MethodGet, target, "", nil)
		head := do(t, s, http.MethodHead, target, "", nil)
		if head.Code != http.StatusOK || head.Code != get.Code {
			t.Errorf("HEAD %s: %d, GET: %d; want both 200", target, head.Code, get.Code)
		}
		if ct := head.Header().Get("Content-Type"); ct == "" || ct != get.Header().Get("Content-Type") {
			t.Errorf("HEAD %s: Content-Type %q, GET's %q", target, ct, get.Header().Get("Content-Type"))
		}
	}
	// Through the network server, a HEAD answer has no body.
	base, _, _ := startServer(t, s)
	resp, err := http.Head(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(b) != 0 {
		t.Errorf("HEAD /healthz over the network: %d with %d body bytes", resp.StatusCode, len(b))
	}
	// POST routes still refuse HEAD.
	if rec := do(t, s, http.MethodHead, "/predict", "", nil); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("HEAD /predict: %d, want 405", rec.Code)
	}
}
