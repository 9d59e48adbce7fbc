package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/onnx"
	"github.com/mnistserve/app/train"
)

var cmdExport = &Command{
	UsageLine: "app export --onnx FILE [flags]",
	Short:     "write a saved model as ONNX for other runtimes",
	Long: `Writes a saved model as ONNX (opset 13): input "image", float32 [N,1,28,28],
pixels scaled to 0..1 (white digit on black); output "probabilities",
float32 [N,10], softmax included.`,
	Flag: func(fs *FlagSet) RunFunc {
		dir := train.DefaultConfig().ModelDir
		var out, version string
		modelsFlag(fs, &dir)
		fs.String(&out, "onnx", "write the model as ONNX to `FILE` (required)")
		fs.String(&version, "version", "export version `V` (default: the one serve serves: the pinned model, else the newest valid one)")
		return func(ctx context.Context, _ []string, stdout, stderr io.Writer) error {
			if out == "" {
				fmt.Fprintln(stderr, "--onnx FILE is required")
				fs.Usage()
				return errUsage
			}
			return runExport(dir, version, out, stdout)
		}
	},
}

// runExport writes version of the models in dir (the newest valid one
// when version is empty) to the ONNX file out.
func runExport(dir, version, out string, stdout io.Writer) error {
	w, meta, err := loadVersion(dir, version)
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

// loadVersion loads version v of the models in dir, or, when v is empty,
// the model a server sharing dir serves (the pinned one, else the newest
// valid one).
func loadVersion(dir, v string) (*model.Weights, model.Meta, error) {
	if v != "" {
		return model.LoadVersion(dir, v)
	}
	w, meta, err := model.Current(dir)
	if err != nil {
		return nil, meta, fmt.Errorf("%w (train one with `app train`)", err)
	}
	return w, meta, nil
}
