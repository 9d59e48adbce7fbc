package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/mnistserve/app/onnx"
)

var cmdExport = &Command{
	UsageLine: "app export --onnx FILE [flags]",
	Short:     "write a saved model as ONNX for other runtimes",
	Long: `Writes a saved model as ONNX (opset 13): input "image", float32 [N,1,28,28],
pixels scaled to 0..1 (white digit on black); output "probabilities",
float32 [N,10], softmax included.`,
	Flag: func(fs *FlagSet) RunFunc {
		ms := defaultModelStore()
		var out, version string
		ms.flags(fs)
		fs.String(&out, "onnx", "write the model as ONNX to `FILE` (required)")
		fs.String(&version, "version", "export version `V` (default: the one serve serves: the pinned model, else the newest valid one)")
		return func(ctx context.Context, _ []string, stdout, stderr io.Writer) error {
			if out == "" {
				fmt.Fprintln(stderr, "--onnx FILE is required")
				fs.Usage()
				return errUsage
			}
			return runExport(ctx, ms, version, out, stdout, stderr)
		}
	},
}

// runExport writes version of the models of ms (the served one when
// version is empty) to the ONNX file out.
func runExport(ctx context.Context, ms modelStore, version, out string, stdout, stderr io.Writer) error {
	reg, closeReg, err := ms.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeReg()
	w, meta, err := reg.LoadOrCurrent(ctx, version)
	if err != nil {
		return err
	}
	data, err := onnx.Marshal(w, meta)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote model %s to %s (ONNX opset %d, %d bytes)\n", meta.Version, out, onnx.Opset, len(data))
	return nil
}
