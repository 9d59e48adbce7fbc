package grpcapi

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"

	"github.com/mnistserve/app/pipeline"
	"github.com/mnistserve/app/store"
)

// classify maps the pipeline's and the store's errors to a code and the
// message the client sees.
func classify(err error) (codes.Code, string) {
	switch {
	case errors.Is(err, pipeline.ErrBusy):
		return codes.ResourceExhausted, "server busy: the queue is full, try again shortly"
	case errors.Is(err, pipeline.ErrClosed):
		return codes.Unavailable, "server shutting down, try again shortly"
	case errors.Is(err, pipeline.ErrNotReady):
		return codes.Unavailable, "not ready: no model is served yet"
	case errors.Is(err, store.ErrUnavailable):
		return codes.Unavailable, "database unavailable, try again later"
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded, "request timed out, try again later"
	case errors.Is(err, context.Canceled):
		return codes.Canceled, "request cancelled"
	}
	return codes.Internal, "internal server error"
}
