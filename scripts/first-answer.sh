#!/usr/bin/env bash
# First boot to first answer: starts `app serve` on an empty folder store
# with a fresh SQLite file, posts a blank 28x28 image to /predict every
# 0.2 s, and prints the seconds from the start until the first 200, then
# /readyz (which names the checkpoint served while training goes on).
# Take it under `flock /tmp/bench.lock` on a shared machine.
#   APP=./app PORT=18710 MNIST_DIR=data/mnist scripts/first-answer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
app=$(realpath "${APP:-./app}")
port="${PORT:-18710}"
data=$(realpath "${MNIST_DIR:-data/mnist}")
dir=$(mktemp -d)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -rf "$dir"' EXIT
body='{"image":['$(printf '0,%.0s' $(seq 783))'0]}'
start=$(date +%s.%N)
(cd "$dir" && exec "$app" serve --addr "127.0.0.1:$port" --models "$dir/models" --db "sqlite:$dir/p.db" --data "$data") >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 3000); do
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" "127.0.0.1:$port/predict" || true)
	[ "$code" = 200 ] && break
	kill -0 "$pid" 2>/dev/null || { echo "first-answer.sh: app serve exited" >&2; tail -n 5 "$dir/log" >&2; exit 1; }
	sleep 0.2
done
[ "$code" = 200 ] || { echo "first-answer.sh: no 200 within 10 minutes" >&2; exit 1; }
echo "first 200 after $(python3 -c "import time; print(round(time.time() - $start, 1))") s"
curl -s "127.0.0.1:$port/readyz"
echo
