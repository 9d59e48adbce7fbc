package grpcapi

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/mnistserve/app/oip"
)

// Health service names: "" and the inference service are SERVING when the
// server is ready (Kubernetes' gRPC readiness probe asks for ""),
// "liveness" whenever the process answers (its liveness probe).
const (
	healthLiveness = "liveness"
	healthService  = "inference.GRPCInferenceService"
)

// health is grpc.health.v1 answered from the protocol service's readiness.
type health struct {
	healthpb.UnimplementedHealthServer
	svc *oip.Service
}

// Check answers SERVING or NOT_SERVING for the service names above.
func (h *health) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	st := h.status(ctx, req.GetService())
	if st == healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
		return nil, status.Errorf(codes.NotFound, "no health service %s: ask for \"\", %q or %q", oip.Quote(req.GetService()), healthService, healthLiveness)
	}
	return &healthpb.HealthCheckResponse{Status: st}, nil
}

// watchEvery is how often Watch looks at the server's readiness again.
const watchEvery = time.Second

// Watch sends the status of the service asked for at once, then each
// change of it (looked at every watchEvery) until the caller leaves; an
// unknown service is SERVICE_UNKNOWN and the call stays open, as the
// health protocol asks.
func (h *health) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx := stream.Context()
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	var last healthpb.HealthCheckResponse_ServingStatus
	for first := true; ; first = false {
		if st := h.status(ctx, req.GetService()); first || st != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
				return err
			}
			last = st
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-tick.C:
		}
	}
}

// status is the serving status of a service name: SERVICE_UNKNOWN for
// one not above.
func (h *health) status(ctx context.Context, service string) healthpb.HealthCheckResponse_ServingStatus {
	switch service {
	case healthLiveness:
		return healthpb.HealthCheckResponse_SERVING
	case "", healthService:
		if err := h.svc.Ready(ctx); err != nil {
			return healthpb.HealthCheckResponse_NOT_SERVING
		}
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_SERVICE_UNKNOWN
}
