// Package grpcapi is the Open Inference Protocol's gRPC binding
// (inference.GRPCInferenceService), beside grpc.health.v1 for probes and
// server reflection for grpcurl. It only translates: requests into the
// protocol service's terms (package oip), answers and errors back into
// messages and status codes. Tokens travel as `authorization: Bearer ...`
// metadata and follow the same rules as the HTTP routes.
package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/mnistserve/app/keys"
	"github.com/mnistserve/app/oip"
	"github.com/mnistserve/app/pipeline"
	pb "github.com/mnistserve/app/proto/inference"
)

// Keys checks API tokens; *keys.Keyring satisfies it.
type Keys interface {
	Lookup(token string) (keys.Key, bool)
}

// Config holds what the gRPC server shares with the HTTP one.
type Config struct {
	// Keys checks tokens; nil means none is asked for.
	Keys Keys
	// OpenPredict lets callers without a token infer when Keys is set.
	OpenPredict bool
	// Allow is the rate limit, shared with the HTTP routes: it reports
	// whether client (a key name or an address) may make a call now, and
	// how long it should wait otherwise. nil means no limit.
	Allow func(client string) (bool, time.Duration)
	// MaxMessage is the largest request message in bytes (--max-body).
	MaxMessage int
	// Timeout is the deadline of a call whose client sets none or a later one.
	Timeout time.Duration
	// ShutdownTimeout bounds the graceful stop.
	ShutdownTimeout time.Duration
	// NotReady words why no model is served (first-boot training).
	NotReady func() string
	// Observe is told each call's context (with its span), method, status
	// code and time, for metrics.
	Observe func(ctx context.Context, method string, code codes.Code, took time.Duration)
	// Tracing gives every call a server span (otelgrpc), continuing the
	// caller's traceparent metadata; nil: none.
	Tracing trace.TracerProvider
}

// Server is the gRPC face of the protocol service.
type Server struct {
	pb.UnimplementedGRPCInferenceServiceServer
	svc    *oip.Service
	cfg    Config
	logger *slog.Logger
	grpc   *grpc.Server
}

// New returns a server answering svc's calls; Serve runs it.
func New(svc *oip.Service, cfg Config, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = 4 << 20
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	s := &Server{svc: svc, cfg: cfg, logger: logger}
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(cfg.MaxMessage),
		grpc.ChainUnaryInterceptor(s.observe, s.guard),
		// A fixed pool of stream workers instead of a goroutine per call,
		// and windows wide enough that 64 one-image calls in flight on one
		// connection never wait on a WINDOW_UPDATE: together about 4% more
		// calls a second under ghz (BENCHMARKS.md, third session).
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
		grpc.InitialWindowSize(1 << 20),
		grpc.InitialConnWindowSize(1 << 22),
	}
	if cfg.Tracing != nil {
		opts = append(opts, grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(cfg.Tracing),
			otelgrpc.WithPropagators(propagation.TraceContext{}),
			otelgrpc.WithMeterProvider(noop.NewMeterProvider()), // the metrics are Prometheus's (Observe)
		)))
	}
	s.grpc = grpc.NewServer(opts...)
	s.grpc.RegisterService(badMessagesAreInvalid(&pb.GRPCInferenceService_ServiceDesc), s)
	s.grpc.RegisterService(badMessagesAreInvalid(&healthpb.Health_ServiceDesc), &health{svc: svc})
	reflection.Register(s.grpc)
	return s
}

// Serve answers calls on ln until ctx is done, then stops gracefully:
// calls in flight finish (each has committed its rows before it answers)
// for up to ShutdownTimeout, after which the rest are cut off.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.logger.Info("gRPC listening", "addr", ln.Addr().String())
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Go(func() { serveErr <- s.grpc.Serve(ln) })
	defer wg.Wait()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve gRPC: %w", err)
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(s.cfg.ShutdownTimeout):
		s.grpc.Stop()
		<-stopped
	}
	s.logger.Info("gRPC server stopped")
	return nil
}

// Start listens on addr and serves until ctx is done.
func (s *Server) Start(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Stop cuts every call off at once; for tests.
func (s *Server) Stop() { s.grpc.Stop() }

// public are the methods anyone may call: the probes, as their HTTP
// routes (/v2/health/*, /v2/models/.../ready). The others need what the
// predicting routes need.
var public = map[string]bool{
	pb.GRPCInferenceService_ServerLive_FullMethodName:  true,
	pb.GRPCInferenceService_ServerReady_FullMethodName: true,
	pb.GRPCInferenceService_ModelReady_FullMethodName:  true,
}

// clientKey is the context key of the caller's key name.
type clientKey struct{}

// guard checks the caller's token and rate, as the HTTP routes'
// middleware does, and bounds the call by the request deadline
// (Config.Timeout) or the client's, whichever comes first.
func (s *Server) guard(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if !strings.HasPrefix(info.FullMethod, "/inference.") || public[info.FullMethod] {
		return next(ctx, req)
	}
	// As on the HTTP routes, the rate is charged before a bad token is
	// refused (to the caller's address), so tokens cannot be guessed at
	// any pace.
	name, authErr := s.authenticate(ctx)
	if s.cfg.Allow != nil {
		id := "key:" + name
		if name == "" {
			id = "addr:" + peerAddr(ctx)
		}
		if ok, wait := s.cfg.Allow(id); !ok {
			return nil, status.Errorf(codes.ResourceExhausted, "too many requests: try again in %v", wait.Round(time.Millisecond))
		}
	}
	if authErr != nil {
		return nil, authErr
	}
	if name != "" {
		ctx = context.WithValue(ctx, clientKey{}, name)
	}
	// A client's deadline is on ctx already (gRPC sends it with the call);
	// ours is added only when it comes sooner, which spares most calls a
	// second timer and context.
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > s.cfg.Timeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
	}
	return next(ctx, req)
}

// authenticate returns the caller's key name ("" when anonymous and
// allowed), or the Unauthenticated or PermissionDenied status.
func (s *Server) authenticate(ctx context.Context) (string, error) {
	if s.cfg.Keys == nil {
		return "", nil
	}
	// ValueFromIncomingContext reads the one key; FromIncomingContext
	// would copy every key and value of the call's metadata first.
	vals := metadata.ValueFromIncomingContext(ctx, "authorization")
	if len(vals) == 0 {
		if s.cfg.OpenPredict {
			return "", nil
		}
		return "", status.Error(codes.Unauthenticated, "this call needs a token: send metadata authorization: Bearer TOKEN")
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", status.Error(codes.Unauthenticated, "the authorization metadata is not a Bearer token")
	}
	key, ok := s.cfg.Keys.Lookup(strings.TrimSpace(token))
	if !ok {
		return "", status.Error(codes.Unauthenticated, "the token is not valid (unknown or revoked)")
	}
	if !key.Role.Allows(keys.RolePredict) {
		return "", status.Errorf(codes.PermissionDenied, "key %q has role %s; this call needs role %s", key.Name, key.Role, keys.RolePredict)
	}
	return key.Name, nil
}

// clientOf is the name stored with the rows of the call: nil for anonymous.
func clientOf(ctx context.Context) *string {
	if name, ok := ctx.Value(clientKey{}).(string); ok {
		return &name
	}
	return nil
}

// peerAddr is the caller's IP, for telling anonymous callers apart.
func peerAddr(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "unknown"
	}
	if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
		return host
	}
	return p.Addr.String()
}

// observe tells Config.Observe about each call and logs the failures of ours.
func (s *Server) observe(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := next(ctx, req)
	code := status.Code(err)
	if s.cfg.Observe != nil {
		s.cfg.Observe(ctx, info.FullMethod, code, time.Since(start))
	}
	var span trace.Span
	if s.cfg.Tracing != nil {
		span = trace.SpanFromContext(ctx)
	}
	if err != nil && span != nil {
		// otelgrpc marks only the server's own faults failed; a refusal
		// (a bad token, the rate limit, a full queue) is one too here, as
		// it is on the HTTP routes.
		span.SetStatus(otelcodes.Error, err.Error())
	}
	if code == codes.Internal || code == codes.Unknown {
		cause := err
		var se *statusError
		if errors.As(err, &se) {
			cause = se.cause
		}
		attrs := []any{"method", info.FullMethod, "code", code.String(), "error", cause}
		if span != nil {
			attrs = append(attrs, "trace_id", span.SpanContext().TraceID().String())
		}
		s.logger.Error("gRPC call", attrs...)
	}
	return resp, err
}

// toStatus maps the protocol service's errors onto gRPC codes; the one
// place that does, as serve's error handler does for HTTP.
func (s *Server) toStatus(err error) error {
	if _, ok := status.FromError(err); ok && err != nil {
		return err
	}
	var oe *oip.Error
	switch {
	case errors.As(err, &oe) && errors.Is(err, oip.ErrInvalid):
		return status.Error(codes.InvalidArgument, oe.Error())
	case errors.As(err, &oe) && errors.Is(err, oip.ErrModelNotFound):
		return status.Error(codes.NotFound, oe.Error())
	}
	code, msg := classify(err)
	if errors.Is(err, pipeline.ErrNotReady) && s.cfg.NotReady != nil {
		msg = s.cfg.NotReady()
	}
	return &statusError{st: status.New(code, msg), cause: err}
}

// statusError is the status a client sees, with the error it stands for,
// which only the server's log shows (observe).
type statusError struct {
	st    *status.Status
	cause error
}

func (e *statusError) Error() string              { return e.st.Err().Error() }
func (e *statusError) GRPCStatus() *status.Status { return e.st }
func (e *statusError) Unwrap() error              { return e.cause }
