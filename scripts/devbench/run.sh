#!/usr/bin/env bash
# The app beside PyTorch 2.x and ONNX Runtime on a many-core machine, one
# sitting, rounds interleaved. scripts/devbench/build.sh makes the folder
# this runs from (.devbench/); on the machine, from a checkout's root:
#   bash .devbench/run.sh            (QUICK=1 for a short trial run)
# Needs only bash, gzip and python3 (with torch and onnxruntime for those
# parts); the Go test binaries are static. Writes to $OUT (default
# .devbench/results): cpu.txt, go-train.txt, go-predict.txt, go-kernels.txt,
# torch.txt, ort.txt, summary.txt; prints summary.txt at the end.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$here/results}
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rounds=3 trainN=30x predT=2s kernT=1s pyT=2 cpus=1,2,8,16
if [ -n "${QUICK:-}" ]; then rounds=1 trainN=3x predT=100ms kernT=100ms pyT=0.2 cpus=1,2; fi
export MNIST_DIR=$here/mnist
for b in model-new model-old kernels; do
	gzip -dc "$here/$b.test.gz" >"$work/$b.test" && chmod +x "$work/$b.test"
done
{ lscpu 2>/dev/null || grep -m1 'model name' /proc/cpuinfo; nproc; } >"$OUT/cpu.txt"
echo "devbench: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cpus; rounds=$rounds"

# The new test binaries find their MNIST fixture under testdata/ of the
# module root (the nearest go.mod); the old ones read MNIST_DIR.
cd "$work"
printf 'module devbench\n' >go.mod
mkdir -p testdata
ln -s "$MNIST_DIR" testdata/mnist
: >"$OUT/go-train.txt"
: >"$OUT/go-predict.txt"
for r in $(seq "$rounds"); do
	echo "devbench: round $r: Go training steps and predictions, new and old"
	for v in new old; do
		./model-$v.test -test.run '^$' -test.bench 'TrainStep$' -test.cpu "$cpus" -test.benchtime "$trainN" -test.benchmem 2>&1 |
			grep '^Benchmark' | sed "s/^/$v: /" >>"$OUT/go-train.txt"
		GOMAXPROCS=1 ./model-$v.test -test.run '^$' -test.bench 'Predict$' -test.benchtime "$predT" -test.benchmem 2>&1 |
			grep '^Benchmark' | sed "s/^/$v: /" >>"$OUT/go-predict.txt"
	done
done
echo "devbench: kernels (one core)"
GOMAXPROCS=1 ./kernels.test -test.run '^$' -test.bench 'FMAPeak|Sgemm' -test.benchtime "$kernT" -test.count "$rounds" 2>&1 | grep '^Benchmark' >"$OUT/go-kernels.txt"
cd "$here/.."
echo "devbench: PyTorch"
threads=${cpus//,/ }
python3 "$here/torch_step.py" "$MNIST_DIR" "$pyT" "$rounds" $threads >"$OUT/torch.txt" 2>&1 || echo "devbench: PyTorch part failed, see torch.txt"
echo "devbench: ONNX Runtime"
python3 "$here/ort_bench.py" "$here/model.onnx" "$MNIST_DIR" "$here/probs.f32" "$pyT" "$rounds" >"$OUT/ort.txt" 2>&1 || echo "devbench: ONNX Runtime part failed, see ort.txt"
echo
grep -h '^#' "$OUT/torch.txt" "$OUT/ort.txt" 2>/dev/null
python3 "$here/summarize.py" "$OUT"
