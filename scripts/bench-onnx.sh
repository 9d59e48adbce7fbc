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

# median of the column before unit $3 on the lines matching $2 in file $1
median() { grep "$2" "$1" | awk -v u="$3" '{for (i = 1; i < NF; i++) if ($(i+1) == u) print $i}' | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
echo
echo "medians of $rounds rounds, one thread each ($(cut -d: -f2 "$out/cpu.txt" | xargs)); runs in $out/"
echo "wall time per call, and CPU time per call (closer to the cost on a shared machine)"
printf '%-22s %14s %14s %8s %14s %14s %8s\n' "" "app wall" "ORT wall" "app/ORT" "app CPU" "ORT CPU" "app/ORT"
for n in 1 64; do
	aw=$(median "$out/app.txt" "Predict/batch=$n[ -]" ns/op)
	ow=$(median "$out/ort.txt" "batch=$n	" ns/op)
	ac=$(median "$out/app.txt" "Predict/batch=$n[ -]" cpu-ns/op)
	oc=$(median "$out/ort.txt" "batch=$n	" cpu-ns/op)
	awk -v n="$n" -v aw="$aw" -v ow="$ow" -v ac="$ac" -v oc="$oc" 'BEGIN {
		printf "%-22s %11.4f ms %11.4f ms %8.2f %11.4f ms %11.4f ms %8.2f\n", "batch " n ", per call", aw / 1e6, ow / 1e6, aw / ow, ac / 1e6, oc / 1e6, ac / oc
		printf "%-22s %14.0f %14.0f %8.2f %14.0f %14.0f %8.2f\n", "batch " n ", images/s", n * 1e9 / aw, n * 1e9 / ow, ow / aw, n * 1e9 / ac, n * 1e9 / oc, oc / ac
	}'
done
