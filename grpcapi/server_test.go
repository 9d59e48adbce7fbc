package grpcapi

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mnistserve/app/pipeline"
	"github.com/mnistserve/app/store"
)

// deadlineStore records how long the context of each Create had left.
type deadlineStore struct {
	memStore
	left chan time.Duration
}

func (s *deadlineStore) Create(ctx context.Context, ps []*store.Prediction) error {
	d, ok := ctx.Deadline()
	if !ok {
		s.left <- -1
	} else {
		s.left <- time.Until(d)
	}
	return s.memStore.Create(ctx, ps)
}

func TestACallEndsAtTheServersDeadlineOrTheClientsWhicheverComesFirst(t *testing.T) {
	const timeout = 5 * time.Second
	st := &deadlineStore{left: make(chan time.Duration, 1)}
	client := startServer(t, Config{Timeout: timeout}, pipeline.Config{QueueLength: 4}, st)
	for _, tc := range []struct {
		name     string
		client   time.Duration // the client's deadline; 0: none
		min, max time.Duration // what the call has left when it commits
	}{
		{"a client without a deadline gets the server's", 0, timeout - time.Second, timeout},
		{"a client with a later deadline gets the server's", time.Minute, timeout - time.Second, timeout},
		{"a client with a sooner deadline keeps its own", 2 * time.Second, time.Second, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.client > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.client)
				defer cancel()
			}
			if _, err := client.ModelInfer(ctx, rawRequest(3)); err != nil {
				t.Fatal(err)
			}
			if left := <-st.left; left < tc.min || left > tc.max {
				t.Errorf("the commit had %v left, want %v to %v", left, tc.min, tc.max)
			}
		})
	}
}

// failingStore fails every write with an error of no known kind.
type failingStore struct{}

func (failingStore) Create(context.Context, []*store.Prediction) error {
	return errors.New("the disk caught fire")
}

// TestAnInternalErrorIsLoggedWithItsCause: the client of a call that fails
// for no known reason sees Internal "internal server error" alone; the
// server's log line names the cause.
func TestAnInternalErrorIsLoggedWithItsCause(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	client := startLogged(t, Config{Timeout: 5 * time.Second}, pipeline.Config{QueueLength: 4}, failingStore{}, logger)
	_, err := client.ModelInfer(context.Background(), rawRequest(3))
	if s := status.Convert(err); s.Code() != codes.Internal || strings.Contains(s.Message(), "fire") {
		t.Errorf("the client got %v %q, want Internal without the cause", s.Code(), s.Message())
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), `msg="gRPC call"`) || !strings.Contains(logs.String(), "the disk caught fire") {
		t.Errorf("the log does not name the cause:\n%s", logs.String())
	}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
