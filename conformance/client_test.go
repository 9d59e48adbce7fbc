package conformance

import "fmt"

// client is one transport of the protocol under test, speaking it as a
// client would from the protocol text alone.
type client interface {
	Live() (bool, error)
	Ready() (bool, error)
	ServerMetadata() (serverMetadata, error)
	ModelMetadata(name, version string) (modelMetadata, error)
	ModelReady(name, version string) (bool, error)
	Infer(name, version string, req request) (*response, error)
}

type serverMetadata struct {
	Name       string
	Version    string
	Extensions []string
}

type tensorMetadata struct {
	Name     string
	Datatype string
	Shape    []int64
}

type modelMetadata struct {
	Name     string
	Versions []string
	Platform string
	Inputs   []tensorMetadata
	Outputs  []tensorMetadata
}

// request is an inference request described apart from its wire form.
type request struct {
	ID       string
	Token    string // sent as Authorization: Bearer, when set
	Name     string // the input's name
	Datatype string
	Shape    []int64
	Values   []float64 // the input's elements, flat
	Nested   bool      // REST: data nested by the shape instead of flat
	Binary   bool      // REST: the binary extension; gRPC: raw_input_contents
	NoData   bool      // send the input without any data
	Outputs  []string  // requested outputs; none asks for all
	BinOut   bool      // ask for the outputs as binary data (REST)
}

// response is an inference response read back from its wire form.
type response struct {
	ModelName    string
	ModelVersion string
	ID           string
	IDs          string // the prediction_ids parameter
	Outputs      []output
}

type output struct {
	Name     string
	Datatype string
	Shape    []int64
	FP32     []float32
	INT64    []int64
	Binary   bool // came as binary data
}

// kind is what class of error the protocol says a failure is, whatever
// the transport's way to say it (HTTP status, gRPC code).
type kind string

const (
	invalidArgument  kind = "invalid argument"
	notFound         kind = "not found"
	unauthenticated  kind = "unauthenticated"
	permissionDenied kind = "permission denied"
	exhausted        kind = "resource exhausted"
	unavailable      kind = "unavailable"
	internal         kind = "internal"
)

// protoError is a failure as a client sees it.
type protoError struct {
	Kind    kind
	Message string
}

func (e *protoError) Error() string { return fmt.Sprintf("%s: %s", e.Kind, e.Message) }
