#!/usr/bin/env bash
# Load test of the three ways to predict, side by side in one sitting:
# POST /predict (our JSON), POST /v2/models/mnist/infer as JSON and with
# binary tensor data (wrk), and gRPC ModelInfer with raw_input_contents
# (ghz, through server reflection). One image of the MNIST test set each,
# CONNS connections (gRPC: concurrent calls on CONNS connections), SECS
# seconds, RUNS rounds; prints one line per run: req/s, p50 and p99 in ms.
#
# Settings (environment):
#   APP=./app MODELS=saved_models DB=postgres://...  (as scripts/load.sh)
#   CONNS=64 SECS=10 RUNS=3 THREADS=2 PORT=18401 GRPC_PORT=18402
#   GHZ=ghz   (go install github.com/bojand/ghz/cmd/ghz@v0.121.0)
set -euo pipefail
cd "$(dirname "$0")/.."
app="${APP:-./app}" models="${MODELS:-saved_models}" ghz="${GHZ:-ghz}"
db="${DB:-postgres://postgres@127.0.0.1:5432/mnist_load?sslmode=disable}"
conns="${CONNS:-64}" secs="${SECS:-10}" runs="${RUNS:-3}" threads="${THREADS:-2}"
port="${PORT:-18401}" gport="${GRPC_PORT:-18402}"
data="${MNIST_DIR:-data/mnist}"
url="http://127.0.0.1:$port"
command -v wrk >/dev/null || { echo "load-oip.sh: wrk missing: apt-get install wrk" >&2; exit 2; }
command -v "$ghz" >/dev/null || { echo "load-oip.sh: ghz missing: go install github.com/bojand/ghz/cmd/ghz@v0.121.0" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || true

dir=$(mktemp -d)
server=
cleanup() {
	if [ -n "$server" ]; then kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true; fi
	rm -rf "$dir"
}
trap cleanup EXIT

# The bodies: /predict's JSON, v2 JSON, v2 binary (JSON header, 784 bytes),
# and the gRPC message (raw contents in base64, as protobuf JSON has bytes).
python3 - "$data" "$dir" <<'PY'
import base64, gzip, json, os, sys
p = os.path.join(sys.argv[1], "t10k-images-idx3-ubyte")
raw = gzip.open(p + ".gz").read() if os.path.exists(p + ".gz") else open(p, "rb").read()
px, out = raw[16:16 + 784], sys.argv[2]
open(out + "/predict.json", "w").write(json.dumps({"image": [list(px[r * 28:(r + 1) * 28]) for r in range(28)]}))
open(out + "/v2.json", "w").write(json.dumps({"inputs": [{"name": "image", "datatype": "UINT8", "shape": [1, 784], "data": list(px)}]}))
head = json.dumps({"inputs": [{"name": "image", "datatype": "UINT8", "shape": [1, 784], "parameters": {"binary_data_size": 784}}]}).encode()
open(out + "/v2.bin", "wb").write(head + px)
open(out + "/v2.binlen", "w").write(str(len(head)))
open(out + "/grpc.json", "w").write(json.dumps({"model_name": "mnist", "inputs": [{"name": "image", "datatype": "UINT8", "shape": [1, 784]}],
	"raw_input_contents": [base64.b64encode(px).decode()]}))
PY

# post.lua posts $BODY with $CTYPE (and the binary extension's header when
# $BINLEN is set) and prints req/s and latency percentiles.
cat >"$dir/post.lua" <<'LUA'
function init(args)
	wrk.method = "POST"
	wrk.headers["Content-Type"] = os.getenv("CTYPE")
	local n = os.getenv("BINLEN")
	if n and n ~= "" then wrk.headers["Inference-Header-Content-Length"] = n end
	local f = io.open(os.getenv("BODY"), "rb")
	wrk.body = f:read("*a")
	f:close()
end
function done(summary, latency, requests)
	io.write(string.format("rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d errors=%d\n",
		summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
		summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA

if [[ "$db" == postgres* ]]; then
	name="${db##*/}"; name="${name%%\?*}"
	psql "${db%/*}/postgres" -qtc "SELECT 1 FROM pg_database WHERE datname='$name'" | grep -q 1 || psql "${db%/*}/postgres" -qc "CREATE DATABASE $name"
fi
"$app" serve --addr "127.0.0.1:$port" --grpc-addr "127.0.0.1:$gport" --db "$db" --models "$models" --watch 0 \
	>"$dir/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -fs "$url/readyz" >/dev/null && break; sleep 0.2; done
curl -fs "$url/readyz" >/dev/null || { cat "$dir/server.log"; exit 1; }

run_wrk() { # name path body content-type [binlen]
	BODY="$3" CTYPE="$4" BINLEN="${5:-}" wrk -t"$threads" -c"$conns" -d"${secs}s" -s "$dir/post.lua" "$url$2" | grep '^rps=' | sed "s/^/$1 /"
}
run_ghz() {
	"$ghz" --insecure --call inference.GRPCInferenceService.ModelInfer -D "$dir/grpc.json" \
		-c "$conns" --connections "$threads" -z "${secs}s" --format json "127.0.0.1:$gport" 2>/dev/null |
		python3 -c 'import json,sys; r=json.load(sys.stdin); p={x["percentage"]:x["latency"]/1e6 for x in r["latencyDistribution"]}
ok=r.get("statusCodeDistribution",{}).get("OK",0); print("grpc-raw rps=%.0f p50_ms=%.2f p99_ms=%.2f non_ok=%d" % (r["rps"], p[50], p[99], r["count"]-ok))'
}
for i in $(seq "$runs"); do
	echo "run $i"
	run_wrk predict /predict "$dir/predict.json" application/json
	run_wrk v2-json /v2/models/mnist/infer "$dir/v2.json" application/json
	run_wrk v2-binary /v2/models/mnist/infer "$dir/v2.bin" application/octet-stream "$(cat "$dir/v2.binlen")"
	run_ghz
done
