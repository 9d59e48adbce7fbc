#!/usr/bin/env bash
# make bench-onnx: the app's inference beside ONNX Runtime's, one thread
# each, same weights, in one sitting. Exports the newest model in
# $MODEL_DIR (saved_models; a quick 1-epoch one is trained into a temporary
# folder when there is none: speed does not depend on the weights), then
# alternates ROUNDS times: BenchmarkPredict under GOMAXPROCS=1, and
# ONNX Runtime (onnxruntime-node, intra- and inter-op threads 1) at batch 1
# and 64. Prints every run, then the medians side by side.
# Usage: scripts/bench-onnx.sh [ROUNDS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
models=${MODEL_DIR:-saved_models}
data=${MNIST_DIR:-data/mnist}
out=bench-out/onnx-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"

if [ ! -d scripts/ort/node_modules/onnxruntime-node ]; then
	(cd scripts/ort && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
if ! ./app export --onnx "$out/model.onnx" --models "$models" >/dev/null 2>&1; then
	echo "no model in $models: training a quick one (1 epoch, 6000 images) for the timing"
	models=$(mktemp -d)
	trap 'rm -rf "$models"' EXIT
	./app train --data "$data" --models "$models" --epochs 1 --limit 6000 >/dev/null
	./app export --onnx "$out/model.onnx" --models "$models"
fi
images=$(ls "$data"/t10k-images-idx3-ubyte* | head -n 1)
go test -c -o "$out/model.test" ./model/
grep -m1 'model name' /proc/cpuinfo | tee "$out/cpu.txt"
for i in $(seq "$rounds"); do
	(cd model && GOMAXPROCS=1 "../$out/model.test" -test.run '^$' -test.bench 'Predict$' -test.benchmem -test.benchtime 2s) |
		grep '^Benchmark' | tee -a "$out/app.txt"
	node scripts/ort/ort.js bench "$out/model.onnx" "$images" 2 | tee -a "$out/ort.txt"
done

# median of the ns/op column of the lines matching $2 in file $1
median() { grep "$2" "$1" | awk '{for (i = 1; i < NF; i++) if ($(i+1) == "ns/op") print $i}' | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
echo
echo "medians of $rounds rounds, one thread each ($(cut -d: -f2 "$out/cpu.txt" | xargs)); runs in $out/"
printf '%-22s %16s %16s %10s\n' "" "app (Go)" "ONNX Runtime" "app/ORT"
for n in 1 64; do
	a=$(median "$out/app.txt" "Predict/batch=$n-\|Predict/batch=$n ")
	o=$(median "$out/ort.txt" "batch=$n	")
	awk -v n="$n" -v a="$a" -v o="$o" 'BEGIN {
		printf "%-22s %13.4f ms %13.4f ms %10.2f\n", "batch " n ", per call", a / 1e6, o / 1e6, a / o
		printf "%-22s %16.0f %16.0f %10.2f\n", "batch " n ", images/s", n * 1e9 / a, n * 1e9 / o, o / a
	}'
done
