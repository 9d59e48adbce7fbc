#!/usr/bin/env bash
# Load test of a running server with wrk (Debian package wrk): POST /predict
# with MNIST test image 0 in the original JSON body, for a bounded time.
# Usage: scripts/load.sh [url] [seconds] [connections]
#   e.g. scripts/load.sh http://127.0.0.1:5000 20 16
set -euo pipefail
url="${1:-http://127.0.0.1:5000}"
secs="${2:-20}"
conns="${3:-16}"
data="${MNIST_DIR:-data/mnist}"
case "$url" in
http://127.* | http://localhost* | http://\[::1\]*) ;;
*) echo "load.sh: only loopback addresses" >&2; exit 2 ;;
esac
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$data" >"$dir/body.json" <<'PY'
import gzip, json, os, sys
d = sys.argv[1]
p = os.path.join(d, "t10k-images-idx3-ubyte")
raw = gzip.open(p + ".gz").read() if os.path.exists(p + ".gz") else open(p, "rb").read()
px = raw[16:16 + 784]
print(json.dumps({"image": [list(px[r * 28:(r + 1) * 28]) for r in range(28)]}))
PY
cat >"$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$dir/body.json", "r")
wrk.body = f:read("*a")
f:close()
LUA
wrk --latency -t 2 -c "$conns" -d "${secs}s" -s "$dir/post.lua" "$url/predict"
