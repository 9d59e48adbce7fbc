#!/usr/bin/env bash
# Measures app against the PyTorch reference (../shared/bench/torch_reference.py)
# back to back on this machine, as BENCHMARKS.md reports: one training epoch
# each, then inference at batch 1 and 64. Needs Debian's python3-torch:
#   apt-get install -y python3-torch libopenblas0-pthread
# Usage: scripts/bench-vs-torch.sh [rounds]   (default 3 rounds, alternating)
set -euo pipefail
rounds="${1:-3}"
data="${MNIST_DIR:-data/mnist}"
ref="${TORCH_REFERENCE:-../shared/bench/torch_reference.py}"
[ -x ./app ] || CGO_ENABLED=0 go build -o app .
models=$(mktemp -d)
trap 'rm -rf "$models"' EXIT
for r in $(seq "$rounds"); do
	echo "== round $r: PyTorch"
	/usr/bin/python3 "$ref" "$data" --threads 2 --epochs 1
	echo "== round $r: app"
	./app train --epochs 1 --data "$data" --models "$models" | grep -E '^epoch 1/1: loss|^test accuracy'
done
echo "== app inference (go test -bench Predict)"
go test -run '^$' -bench 'Predict' -benchtime 2s -count 3 ./model/ | grep -E '^Benchmark'
