package grpcapi

import (
	"context"

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
	switch req.GetService() {
	case healthLiveness:
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	case "", healthService:
		if err := h.svc.Ready(ctx); err != nil {
			return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}, nil
		}
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	}
	return nil, status.Errorf(codes.NotFound, "no health service %s: ask for \"\", %q or %q", oip.Quote(req.GetService()), healthService, healthLiveness)
}
