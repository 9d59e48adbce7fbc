#!/usr/bin/env bash
# The host's HTTP ceiling beside /predict: runs wrk at CONNS connections
# against a bare Echo handler (scripts/ceiling: reads the body, answers a
# fixed 217 bytes, the size of /predict's answer) and against `app serve`
# /predict with storage on each database (through scripts/load.sh, which
# also checks that rows added == 200s sent), alternating them run by run so
# that all of them see the same machine, then prints each one's median
# req/s and p99 and its share of the ceiling's median req/s; and each
# server's CPU time per request, with the ceiling's as a share of it (the
# figure a busy shared host disturbs least).
#
# Settings (environment):
#   APPS="./app"        binaries to compare, e.g. "/tmp/app-old ./app"
#   DBS="postgres sqlite"
#   PG=postgres://postgres@127.0.0.1:5432/mnist_load?sslmode=disable
#   MODELS=saved_models CONNS=64 SECS=10 RUNS=3 THREADS=2 PORT=18390
#   SERVE_FLAGS=        more flags for app serve
# Take figures under `flock /tmp/bench.lock` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
apps="${APPS:-./app}"
dbs="${DBS:-postgres sqlite}"
pg="${PG:-postgres://postgres@127.0.0.1:5432/mnist_load?sslmode=disable}"
conns="${CONNS:-64}" secs="${SECS:-10}" runs="${RUNS:-3}" threads="${THREADS:-2}"
port="${PORT:-18390}"
data="${MNIST_DIR:-data/mnist}"

# cputicks PID: the CPU time (user + system) a process has used, in ticks.
ticks=$(getconf CLK_TCK)
cputicks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

command -v wrk >/dev/null || { echo "ceiling.sh: wrk missing: apt-get install wrk" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
dir=$(mktemp -d)
ceiling=
cleanup() {
	if [ -n "$ceiling" ]; then kill "$ceiling" 2>/dev/null && wait "$ceiling" 2>/dev/null || true; fi
	rm -rf "$dir"
}
trap cleanup EXIT

CGO_ENABLED=0 go build -o "$dir/ceiling" ./scripts/ceiling
"$dir/ceiling" --addr "127.0.0.1:$port" 2>"$dir/ceiling.log" &
ceiling=$!
for _ in $(seq 50); do
	curl -fsS -o /dev/null -X POST --data-binary x "http://127.0.0.1:$port/predict" 2>/dev/null && break
	sleep 0.1
done

python3 - "$data" >"$dir/body.json" <<'PY'
import gzip, json, os, sys
p = os.path.join(sys.argv[1], "t10k-images-idx3-ubyte")
raw = gzip.open(p + ".gz").read() if os.path.exists(p + ".gz") else open(p, "rb").read()
px = raw[16:16 + 784]
print(json.dumps({"image": [list(px[r * 28:(r + 1) * 28]) for r in range(28)]}))
PY
cat >"$dir/post.lua" <<LUA
function init(args)
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
	local f = io.open("$dir/body.json", "r")
	wrk.body = f:read("*a")
	f:close()
end
function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("WRK %.1f %.2f %d %d\n", summary.requests / (summary.duration / 1e6),
		latency:percentile(99) / 1000, e.connect + e.read + e.write + e.timeout + e.status, summary.requests))
end
LUA

echo "ceiling: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores; $conns connections, wrk $threads threads, ${secs}s x $runs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$dir/results" # lines: NAME RPS P99
for run in $(seq "$runs"); do
	cpu0=$(cputicks "$ceiling")
	out=$(wrk -t "$threads" -c "$conns" -d "${secs}s" --timeout 15s -s "$dir/post.lua" "http://127.0.0.1:$port/predict")
	cpu1=$(cputicks "$ceiling")
	read -r rps p99 errs requests < <(grep '^WRK ' <<<"$out" | cut -d' ' -f2-)
	[ "$errs" = 0 ] || { echo "ceiling.sh: $errs errors against the ceiling" >&2; exit 1; }
	cpu=$(((cpu1 - cpu0) * 1000000 / ticks / requests))
	echo "ceiling $rps $p99 $cpu" >>"$dir/results"
	echo "run $run: ceiling $rps req/s p99 $p99 ms, server CPU $cpu us/request"
	for app in $apps; do
		for db in $dbs; do
			[ "$db" = postgres ] && url="$pg" || url=sqlite
			out=$(APP="$app" DB="$url" CONNS="$conns" THREADS="$threads" SECS="$secs" RUNS=1 PORT=$((port + 1)) scripts/load.sh 2>&1) || { echo "$out" >&2; exit 1; }
			line=$(grep '^median' <<<"$out")
			rps=$(awk '{ print $4 }' <<<"$line") p99=$(awk '{ print $10 }' <<<"$line")
			cpu=$(grep '^run 1' <<<"$out" | sed 's/.*server CPU \([0-9]*\) us.*/\1/')
			echo "$app/$db $rps $p99 $cpu" >>"$dir/results"
			echo "run $run: $app $db $rps req/s p99 $p99 ms, server CPU $cpu us/request ($(grep '^run 1' <<<"$out" | grep -o 'rows added.*'))"
		done
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$dir/results" <<'PY'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    name, rps, p99, cpu = line.split()
    by.setdefault(name, []).append((float(rps), float(p99), float(cpu)))
ceil = statistics.median(r for r, _, _ in by["ceiling"])
ceil_cpu = statistics.median(c for _, _, c in by["ceiling"])
print("%-40s %10s %10s %8s %12s %10s" % ("median of runs", "req/s", "p99 ms", "share", "CPU us/req", "CPU share"))
for name, runs in by.items():
    rps = statistics.median(r for r, _, _ in runs)
    p99 = statistics.median(p for _, p, _ in runs)
    cpu = statistics.median(c for _, _, c in runs)
    print("%-40s %10.0f %10.1f %7.1f%% %12.0f %9.1f%%" % (name, rps, p99, 100 * rps / ceil, cpu, 100 * ceil_cpu / cpu))
PY
