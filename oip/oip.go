// Package oip is the Open Inference Protocol (KServe v2) as this server
// speaks it, apart from any transport: the one model "mnist", its
// metadata, and inference requests and answers in a neutral form that the
// REST transport (serve) and the gRPC transport (grpcapi) translate to and
// from their wire forms. Requests run through the same pipeline as
// /predict, so every image is stored the same way.
package oip

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/pipeline"
)

// The names the protocol knows this server's model and tensors by.
const (
	ModelName    = "mnist"
	InputName    = "image"
	OutputProbs  = "probabilities"
	OutputDigit  = "prediction"
	ServerName   = "mnistserve"
	Platform     = "gorgonia_mnist" // <project>_<format>, as the spec names platforms
	ExtensionBin = "binary_tensor_data"
	maxImages    = 256 // as /predict/batch
	imageSize    = 784
	imageSide    = 28
	ParamIDs     = "prediction_ids"     // response parameter: the stored rows, comma-separated
	ParamBinary  = "binary_data"        // output parameter: answer this output in binary
	ParamBinAll  = "binary_data_output" // request parameter: answer every output in binary
	ParamBinSize = "binary_data_size"   // tensor parameter: bytes of its binary data
)

var (
	// ErrInvalid is wrapped by every error about the request's content;
	// its message names the field and says what is wanted.
	ErrInvalid = errors.New("invalid inference request")
	// ErrModelNotFound is wrapped when the request names a model or a
	// version this server does not have.
	ErrModelNotFound = errors.New("model not found")
)

// invalid returns an error wrapping ErrInvalid with a worded message.
func invalid(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...), Kind: ErrInvalid}
}

// Error is a request error whose message is meant for the client; a
// transport that finds a fault in its own wire form says so with one too.
type Error struct {
	Msg  string // what is wrong, naming the field
	Kind error  // ErrInvalid or ErrModelNotFound
}

func (e *Error) Error() string { return e.Msg }

// Unwrap lets errors.Is find ErrInvalid or ErrModelNotFound.
func (e *Error) Unwrap() error { return e.Kind }

// Models is where the service finds models: the served one, and others by
// version for requests that name one.
type Models interface {
	// Served returns the served model, or pipeline.ErrNotReady.
	Served() (pipeline.Model, error)
	// Version returns the model of version; the error wraps
	// model.ErrUnknownVersion or model.ErrCorrupt when it cannot serve.
	Version(ctx context.Context, version string) (pipeline.Model, error)
	// Versions lists the valid versions a client may ask for.
	Versions() ([]string, error)
}

// Service answers the protocol's calls for every transport.
type Service struct {
	Pipeline *pipeline.Pipeline
	Models   Models
	// Ready reports whether the server can answer inference requests now
	// (model loaded, database reachable).
	Ready func(ctx context.Context) error
	// Version is the server's own version, for server metadata.
	Version string
}

// ServerMetadata is the answer of GET /v2 and ServerMetadata.
type ServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

// ServerMetadata describes the server.
func (s *Service) ServerMetadata() ServerMetadata {
	return ServerMetadata{Name: ServerName, Version: s.Version, Extensions: []string{ExtensionBin}}
}

// TensorMetadata describes one input or output.
type TensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// ModelMetadata is the answer of GET /v2/models/mnist and ModelMetadata.
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions"`
	Platform string           `json:"platform"`
	Inputs   []TensorMetadata `json:"inputs"`
	Outputs  []TensorMetadata `json:"outputs"`
}

// ModelMetadata describes the model name at version ("" for the served one).
func (s *Service) ModelMetadata(ctx context.Context, name, version string) (ModelMetadata, error) {
	if _, err := s.model(ctx, name, version); err != nil {
		return ModelMetadata{}, err
	}
	versions, err := s.Models.Versions()
	if err != nil {
		return ModelMetadata{}, fmt.Errorf("list model versions: %w", err)
	}
	return ModelMetadata{
		Name:     ModelName,
		Versions: versions,
		Platform: Platform,
		// The input takes any of three shapes; the metadata names the
		// first, which the others are views of.
		Inputs: []TensorMetadata{{Name: InputName, Datatype: "FP32", Shape: []int64{-1, 1, imageSide, imageSide}}},
		Outputs: []TensorMetadata{
			{Name: OutputProbs, Datatype: "FP32", Shape: []int64{-1, model.Classes}},
			{Name: OutputDigit, Datatype: "INT64", Shape: []int64{-1}},
		},
	}, nil
}

// ModelReady reports whether name at version can answer now: the error
// wraps ErrModelNotFound for a model or version that does not exist,
// pipeline.ErrNotReady while none is served.
func (s *Service) ModelReady(ctx context.Context, name, version string) error {
	_, err := s.model(ctx, name, version)
	return err
}

// model finds the model a request names; nil with no error means the
// served one, which the pipeline batches.
func (s *Service) model(ctx context.Context, name, version string) (pipeline.Model, error) {
	if name != ModelName {
		return nil, &Error{Msg: fmt.Sprintf("no model named %s; this server has %q", Quote(name), ModelName), Kind: ErrModelNotFound}
	}
	served, err := s.Models.Served()
	if err != nil {
		return nil, err
	}
	if version == "" || version == served.Meta().Version {
		return nil, nil
	}
	m, err := s.Models.Version(ctx, version)
	switch {
	case errors.Is(err, model.ErrUnknownVersion), errors.Is(err, model.ErrCorrupt):
		versions, _ := s.Models.Versions()
		slices.Sort(versions)
		return nil, &Error{Msg: fmt.Sprintf("model %q has no valid version %s (valid: %v)", name, Quote(version), versions), Kind: ErrModelNotFound}
	case err != nil:
		return nil, fmt.Errorf("load model version %s: %w", version, err)
	}
	return m, nil
}
