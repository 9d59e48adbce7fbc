#!/usr/bin/env bash
# Makes .devbench/ for scripts/devbench/run.sh on a machine without Go:
# static test binaries of the model (this checkout and OLD, default
# 850c969, the start of the issue 9 round) and of the kernels, the newest
# model of MODELS (default saved_models) exported as ONNX, the MNIST files
# and the scripts. Usage: scripts/devbench/build.sh [OLD]
set -euo pipefail
cd "$(dirname "$0")/../.."
old=${1:-850c969}
out=.devbench
mkdir -p "$out/mnist"
CGO_ENABLED=0 go test -c -ldflags "-s -w" -o "$out/model-new.test" ./model/
CGO_ENABLED=0 go test -c -ldflags "-s -w" -o "$out/kernels.test" ./internal/kernels/
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/old" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
git worktree add -q "$tmp/old" "$old"
(cd "$tmp/old" && CGO_ENABLED=0 go test -c -ldflags "-s -w" -o "$OLDPWD/$out/model-old.test" ./model/)
for b in model-new model-old kernels; do gzip -9f "$out/$b.test"; done
CGO_ENABLED=0 go build -o "$tmp/app" .
"$tmp/app" export --onnx "$out/model.onnx" --models "${MODEL_DIR:-saved_models}"
cp data/mnist/*.gz "$out/mnist/"
cp scripts/devbench/run.sh scripts/devbench/*.py "$out/"
{ git log --oneline -1; echo "old: $old"; } >"$out/COMMIT"
du -sh "$out"
