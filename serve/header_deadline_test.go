package serve

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mnistserve/app/store/storetest"
)

// trickle sends msg a byte every gap on a new connection to addr and
// returns how long after connecting the server closed it.
func trickle(tb testing.TB, addr, msg string, gap time.Duration) time.Duration {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	for i := 0; ; i = (i + 1) % len(msg) {
		select {
		case <-closed:
			return time.Since(start)
		case <-time.After(gap):
		}
		if _, err := c.Write([]byte{msg[i]}); err != nil {
			<-closed
			return time.Since(start)
		}
		if time.Since(start) > 20*time.Second {
			tb.Fatal("the server never closed a connection sending its head a byte at a time")
		}
	}
}

func TestSlowHeadersAreCutOffOneHeaderTimeoutAfterAccept(t *testing.T) {
	const limit = 600 * time.Millisecond
	st, _ := storetest.Open(t, "sqlite")
	s := New(Config{QueueLength: 1, QueueLatency: 0, HeaderTimeout: limit}, st, nil)
	s.SetModel(&fakeModel{version: "v", delay: 5 * time.Second})
	base, _, _ := startServer(t, s)
	addr := strings.TrimPrefix(base, "http://")
	// A request line of a route the door lets through, then headers that
	// never end: the door waits for the line, the HTTP server for the rest.
	head := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200)

	t.Run("with room in the queue", func(t *testing.T) {
		if took := trickle(t, addr, head, 20*time.Millisecond); took < limit*8/10 || took > limit*3/2 {
			t.Errorf("closed after %v, want about %v", took, limit)
		}
	})
	t.Run("while the queue is full", func(t *testing.T) {
		release, err := s.admit(context.Background()) // the only slot, held for the test
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		if !s.pipe.Full() {
			t.Fatal("the queue is not full")
		}
		if took := trickle(t, addr, head, 20*time.Millisecond); took < limit*8/10 || took > limit*3/2 {
			t.Errorf("closed after %v, want about %v: the door's wait and the server's must not add up", took, limit)
		}
	})
}
