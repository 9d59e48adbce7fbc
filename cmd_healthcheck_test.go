package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// statusServer starts a server that answers every request with code and
// counts the requests to /healthz.
func statusServer(tb testing.TB, code int) (*httptest.Server, *atomic.Int32) {
	tb.Helper()
	hits := new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && r.Method == http.MethodGet {
			hits.Add(1)
		}
		w.WriteHeader(code)
	}))
	tb.Cleanup(srv.Close)
	return srv, hits
}

// closedPortURL returns a URL on 127.0.0.1 where nothing listens.
func closedPortURL(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/healthz"
}

func TestHealthcheck(t *testing.T) {
	t.Run("a server answering 200 passes", func(t *testing.T) {
		srv, hits := statusServer(t, http.StatusOK)
		var out, errOut bytes.Buffer
		err := runCommand(cmdHealthcheck, []string{"--url", srv.URL + "/healthz"}, &out, &errOut)
		if err != nil {
			t.Fatalf("want success, got %v", err)
		}
		if n := hits.Load(); n != 1 {
			t.Errorf("want one GET /healthz, got %d", n)
		}
		if !strings.Contains(out.String(), "200") {
			t.Errorf("stdout %q does not report the 200", out.String())
		}
	})
	t.Run("a server answering 503 fails and names the status", func(t *testing.T) {
		srv, _ := statusServer(t, http.StatusServiceUnavailable)
		err := runCommand(cmdHealthcheck, []string{"--url", srv.URL + "/healthz"}, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("want an error naming 503, got %v", err)
		}
	})
	t.Run("a closed port fails", func(t *testing.T) {
		err := runCommand(cmdHealthcheck, []string{"--url", closedPortURL(t)}, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil {
			t.Fatal("want an error for a closed port, got nil")
		}
	})
	t.Run("a server slower than --timeout fails", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		start := time.Now()
		err := runCommand(cmdHealthcheck, []string{"--url", srv.URL, "--timeout", "100ms"}, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil {
			t.Fatal("want a timeout error, got nil")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v, want about 100ms", d)
		}
	})
	t.Run("the default URL uses PORT", func(t *testing.T) {
		srv, hits := statusServer(t, http.StatusOK)
		_, port, err := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("PORT", port)
		if err := runCommand(cmdHealthcheck, nil, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
			t.Fatalf("want success on PORT=%s, got %v", port, err)
		}
		if n := hits.Load(); n != 1 {
			t.Errorf("want one GET /healthz on PORT, got %d", n)
		}
	})
	t.Run("an unknown flag exits 2 through dispatch", func(t *testing.T) {
		var errOut bytes.Buffer
		if code := dispatch(context.Background(), []string{"healthcheck", "--nope"}, &bytes.Buffer{}, &errOut); code != 2 {
			t.Errorf("exit code %d, want 2", code)
		}
	})
	t.Run("a failing check exits 1 through dispatch", func(t *testing.T) {
		srv, _ := statusServer(t, http.StatusServiceUnavailable)
		var errOut bytes.Buffer
		code := dispatch(context.Background(), []string{"healthcheck", "--url", srv.URL + "/healthz"}, &bytes.Buffer{}, &errOut)
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		if !strings.Contains(errOut.String(), "503") {
			t.Errorf("stderr %q does not name the status", errOut.String())
		}
	})
}
