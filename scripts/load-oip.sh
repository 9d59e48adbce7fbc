#!/usr/bin/env bash
# Load test of the three ways to predict, side by side in one sitting:
# POST /predict (our JSON), POST /v2/models/mnist/infer as JSON and with
# binary tensor data (wrk), and gRPC ModelInfer with raw_input_contents
# (ghz, through server reflection). One image of the MNIST test set each,
# CONNS connections (gRPC: CONNS calls in flight on GRPC_CONNS
# connections), SECS seconds, RUNS rounds, the protocols alternating within
# a round. Prints one line per run: req/s, p50 and p99 in ms, answers that
# were not 200/OK (with ghz's status codes and messages), the server's and
# the database's CPU time per answer (steadier than req/s on a shared
# machine), the load generator's (wrk's or ghz's, its start and report
# included), and the check that the rows added match the 200s/OKs; then
# the medians, each beside /predict's.
#
# ghz is driven so that it measures the server, not itself:
#   --duration-stop=wait  at the end of SECS, wait for the calls in flight;
#                         the default (close) closes the connections under
#                         them, and each counts as Unavailable "error
#                         reading from server: use of closed network
#                         connection" (one per call in flight, 64 a run)
#   --disable-template-data --disable-template-functions
#                         the data has no template; without these ghz
#                         builds a text/template with sprig's functions and
#                         a UUID for every call, about half its CPU
#   --timeout 10s         each call's deadline, app serve's own (--timeout):
#                         a client's deadline spares the server a timer of
#                         its own
#
# Settings (environment):
#   APP=./app MODELS=saved_models DB=postgres://...  (as scripts/load.sh)
#   CONNS=64 SECS=10 RUNS=3 THREADS=2 GRPC_CONNS=1 PORT=18401 GRPC_PORT=18402
#   PROTOCOLS="predict v2-json v2-binary grpc"   which to run, in this order;
#                 also grpc-bin: ModelInfer from the message in protobuf's
#                 binary form (ghz -B, encoded by protoc), not JSON
#   GHZ=ghz   (go install github.com/bojand/ghz/cmd/ghz@v0.121.0)
#   GHZ_FLAGS=    more flags for ghz, e.g. "--cpus 1" (its GOMAXPROCS)
set -euo pipefail
cd "$(dirname "$0")/.."
app="${APP:-./app}" models="${MODELS:-saved_models}" ghz="${GHZ:-ghz}"
db="${DB:-postgres://postgres@127.0.0.1:5432/mnist_load?sslmode=disable}"
conns="${CONNS:-64}" secs="${SECS:-10}" runs="${RUNS:-3}" threads="${THREADS:-2}" gconns="${GRPC_CONNS:-1}"
protocols="${PROTOCOLS:-predict v2-json v2-binary grpc}"
port="${PORT:-18401}" gport="${GRPC_PORT:-18402}"
data="${MNIST_DIR:-data/mnist}"
url="http://127.0.0.1:$port"
command -v wrk >/dev/null || { echo "load-oip.sh: wrk missing: apt-get install wrk" >&2; exit 2; }
command -v "$ghz" >/dev/null || { echo "load-oip.sh: ghz missing: go install github.com/bojand/ghz/cmd/ghz@v0.121.0" >&2; exit 2; }
[[ "$db" == postgres* ]] || { echo "load-oip.sh: DB must be a postgres:// URL" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

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
open(out + "/grpc.txt", "w").write('model_name: "mnist"\ninputs { name: "image" datatype: "UINT8" shape: 1 shape: 784 }\n'
	'raw_input_contents: "%s"\n' % "".join("\\%03o" % b for b in px))
PY
# The same gRPC message in protobuf's binary form, for grpc-bin: ghz sends
# it as it is, where with JSON it turns the JSON into a message each call.
if [[ " $protocols " == *" grpc-bin "* ]]; then
	command -v protoc >/dev/null || { echo "load-oip.sh: grpc-bin needs protoc: apt-get install protobuf-compiler" >&2; exit 2; }
	protoc -I proto/inference --encode=inference.ModelInferRequest proto/inference/grpc_service.proto <"$dir/grpc.txt" >"$dir/grpc.bin"
fi

# post.lua posts $BODY with $CTYPE (and the binary extension's header when
# $BINLEN is set) and prints req/s, latency percentiles, the answers and
# the answers that were not 2xx or were socket errors.
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
	local e = summary.errors
	io.write(string.format("rps=%.0f p50_ms=%.2f p99_ms=%.2f answers=%d not_ok=%d\n",
		summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
		summary.requests, e.status + e.connect + e.read + e.write + e.timeout))
end
LUA

name="${db##*/}" name="${name%%\?*}"
psql "${db%/*}/postgres" -qtc "SELECT 1 FROM pg_database WHERE datname='$name'" | grep -q 1 || psql "${db%/*}/postgres" -qc "CREATE DATABASE $name"
rows() { psql -qAt "$db" -c 'select count(*) from predictions'; }
# cputicks PID...: user+system CPU of the processes so far, in clock ticks.
cputicks() { for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null || true; done | awk '{ t += $14 + $15 } END { print t + 0 }'; }
# backends: the PostgreSQL backends serving this database (the pool keeps them open).
backends() { psql -qAt "$db" -c "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"; }

"$app" serve --addr "127.0.0.1:$port" --grpc-addr "127.0.0.1:$gport" --db "$db" --models "$models" --watch 0 \
	>"$dir/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -fs "$url/readyz" >/dev/null && break; sleep 0.2; done
curl -fs "$url/readyz" >/dev/null || { cat "$dir/server.log"; exit 1; }

# timed CMD...: runs CMD, leaving its user+system CPU in seconds in
# $dir/client (its start and its report included; "-" without GNU time).
timed() {
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%U %S' -o "$dir/client.time" "$@"
		awk '{ print $1 + $2 }' "$dir/client.time" >"$dir/client"
	else
		echo - >"$dir/client"
		"$@"
	fi
}
run_wrk() { # path body content-type [binlen]
	BODY="$2" CTYPE="$3" BINLEN="${4:-}" timed wrk -t"$threads" -c"$conns" -d"${secs}s" -s "$dir/post.lua" "$url$1" | grep '^rps='
}
run_ghz() { # data flag and file: -D JSON, or -B binary protobuf
	timed "$ghz" --insecure --call inference.GRPCInferenceService.ModelInfer "$1" "$2" \
		-c "$conns" --connections "$gconns" -z "${secs}s" --duration-stop=wait --timeout 10s \
		--disable-template-data --disable-template-functions ${GHZ_FLAGS:-} --format json "127.0.0.1:$gport" 2>/dev/null |
		python3 -c 'import json, sys
r = json.load(sys.stdin)
p = {x["percentage"]: x["latency"] / 1e6 for x in r["latencyDistribution"] or []}
codes = r.get("statusCodeDistribution") or {}
print("rps=%.0f p50_ms=%.2f p99_ms=%.2f answers=%d not_ok=%d" % (r["rps"], p.get(50, 0), p.get(99, 0), r["count"], r["count"] - codes.get("OK", 0)))
for code, n in codes.items():
    if code != "OK": print("  status %s: %d" % (code, n), file=sys.stderr)
for msg, n in sorted((r.get("errorDistribution") or {}).items(), key=lambda kv: -kv[1])[:3]:
    print("  %d x %s" % (n, msg), file=sys.stderr)'
}
run() { # protocol
	case "$1" in
	predict) run_wrk /predict "$dir/predict.json" application/json ;;
	v2-json) run_wrk /v2/models/mnist/infer "$dir/v2.json" application/json ;;
	v2-binary) run_wrk /v2/models/mnist/infer "$dir/v2.bin" application/octet-stream "$(cat "$dir/v2.binlen")" ;;
	grpc) run_ghz -D "$dir/grpc.json" ;;
	grpc-bin) run_ghz -B "$dir/grpc.bin" ;;
	*) echo "load-oip.sh: unknown protocol $1" >&2; exit 2 ;;
	esac
}

hz=$(getconf CLK_TCK)
# per TICKS: microseconds of CPU per answer that was 200/OK ($ok).
per() { awk -v t="$1" -v hz="$hz" -v n="$ok" 'BEGIN { if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "-" }'; }
echo "load-oip: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $conns connections (gRPC: $conns calls in flight on $gconns connections), ${secs}s x $runs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
fail=0
: >"$dir/results"
for i in $(seq "$runs"); do
	for proto in $protocols; do
		mapfile -t pg < <(backends)
		r0=$(rows) cpu0=$(cputicks "$server") db0=$(cputicks "${pg[@]}")
		line=$(run "$proto")
		sleep 1 # let the requests in flight when wrk stopped be answered
		r1=$(rows) cpu1=$(cputicks "$server") db1=$(cputicks "${pg[@]}")
		eval "${line// /;}" # rps p50_ms p99_ms answers not_ok
		ok=$((answers - not_ok)) added=$((r1 - r0))
		# Every 200/OK has its row; the only rows beyond them belong to
		# requests wrk abandoned mid-commit when it stopped (at most one
		# per connection; ghz waits for its calls).
		check=ok
		if [ "$added" -lt "$ok" ] || [ "$added" -gt $((ok + conns)) ]; then check="FAIL: rows added $added vs $ok answered"; fail=1; fi
		client=$(awk -v s="$(cat "$dir/client")" -v n="$ok" 'BEGIN { if (s != "-" && n > 0) printf "%.0f", s * 1e6 / n; else print "-" }')
		echo "run $i $proto $line server_us=$(per $((cpu1 - cpu0))) db_us=$(per $((db1 - db0))) client_us=$client rows=$added $check"
		echo "$proto $rps $p99_ms $(per $((cpu1 - cpu0))) $client" >>"$dir/results"
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server log, warnings and errors by message:"
grep -oE 'level=(WARN|ERROR) msg=("[^"]*"|[^ ]*)' "$dir/server.log" | sort | uniq -c | sort -rn | head -5 || true
grep -m2 -E 'level=(WARN|ERROR)' "$dir/server.log" | cut -c1-400 || true
python3 - "$dir/results" <<'PY'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    name, *vals = line.split()
    by.setdefault(name, []).append([float(v) if v != "-" else float("nan") for v in vals])
med = lambda runs, i: statistics.median(r[i] for r in runs)
base = med(by["predict"], 0) if "predict" in by else None
print("%-10s %8s %8s %14s %14s %s" % ("median", "req/s", "p99 ms", "server us/req", "client us/req", "vs /predict"))
for name, runs in by.items():
    print("%-10s %8.0f %8.1f %14.0f %14.0f %s" % (name, med(runs, 0), med(runs, 1), med(runs, 2), med(runs, 3),
        "%.2fx" % (med(runs, 0) / base) if base else "-"))
PY
exit "$fail"
