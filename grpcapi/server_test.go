package grpcapi

import (
	"context"
	"testing"
	"time"

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
