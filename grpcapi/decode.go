package grpcapi

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// badMessagesAreInvalid returns desc with each unary method answering a
// request message that does not decode (wire bytes that are no protobuf,
// a string field that is not UTF-8) InvalidArgument, as bad input is
// answered everywhere else; grpc-go answers it Internal. The message is
// decoded before any interceptor runs, so such a call is neither logged
// nor counted.
func badMessagesAreInvalid(desc *grpc.ServiceDesc) *grpc.ServiceDesc {
	d := *desc
	d.Methods = make([]grpc.MethodDesc, len(desc.Methods))
	for i, m := range desc.Methods {
		handler := m.Handler
		d.Methods[i] = grpc.MethodDesc{MethodName: m.MethodName,
			Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
				return handler(srv, ctx, func(v any) error {
					err := dec(v)
					if status.Code(err) == codes.Internal {
						return status.Errorf(codes.InvalidArgument, "the %s request is not a valid protobuf message: %s", m.MethodName, status.Convert(err).Message())
					}
					return err
				}, ic)
			}}
	}
	return &d
}
