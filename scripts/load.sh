#!/usr/bin/env bash
# Load test: starts `app serve` on PostgreSQL (or SQLite), drives POST
# /predict with wrk (Debian package wrk) posting MNIST test image 0 in the
# original JSON body, and prints per run: requests/s, p50/p99/p99.9 latency,
# answers by status, socket errors, the server's p99 for admitted requests,
# its peak RSS, and the check that rows added == 200s the server sent.
# wrk stops with requests in flight: the server still commits some of them
# but answers no 200 (the client is gone), so rows added may exceed the
# 200s by at most one per connection; fewer rows than 200s fails the check.
# Ends with the median run. Exits non-zero when a check fails.
#
# Settings (environment):
#   APP=./app            binary to test (built by make load)
#   DB=postgres://postgres@127.0.0.1:5432/mnist_load?sslmode=disable
#                        PostgreSQL URL (the database is created if missing,
#                        never dropped), or "sqlite" for a fresh SQLite file
#   MODELS=saved_models  folder holding a trained model (make train)
#   CONNS=64 SECS=30 RUNS=3 THREADS=2 PORT=18380
#   SERVE_FLAGS=         more flags for app serve, e.g. --max-queue 512
#   ALLOW_503=0          1 for overload runs: 503s are then expected
#   SLOW_CLIENTS=0       N: meanwhile hold N connections that send their
#                        headers a byte a second (reopened when cut off)
#   IDEM=                "on": every request carries an Idempotency-Key of
#                        its own (never repeated, so nothing is replayed);
#                        "off": the same Lua request() path without the
#                        header, the fair baseline; unset: wrk's static
#                        request as before
set -euo pipefail
cd "$(dirname "$0")/.."
app="${APP:-./app}"
db="${DB:-postgres://postgres@127.0.0.1:5432/mnist_load?sslmode=disable}"
models="${MODELS:-saved_models}"
conns="${CONNS:-64}" secs="${SECS:-30}" runs="${RUNS:-3}" threads="${THREADS:-2}"
port="${PORT:-18380}"
threads=$((threads < conns ? threads : conns)) # wrk wants a connection per thread at least
allow503="${ALLOW_503:-0}"
data="${MNIST_DIR:-data/mnist}"
url="http://127.0.0.1:$port"

command -v wrk >/dev/null || { echo "load.sh: wrk missing: apt-get install wrk" >&2; exit 2; }
[ -x "$app" ] || { echo "load.sh: $app missing: make build" >&2; exit 2; }
ls "$models"/*.json >/dev/null 2>&1 || { echo "load.sh: no model in $models: make train" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

dir=$(mktemp -d)
server=
cleanup() {
	if [ -n "$server" ]; then kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true; fi
	rm -rf "$dir"
}
trap cleanup EXIT

python3 - "$data" >"$dir/body.json" <<'PY'
import gzip, json, os, sys
p = os.path.join(sys.argv[1], "t10k-images-idx3-ubyte")
raw = gzip.open(p + ".gz").read() if os.path.exists(p + ".gz") else open(p, "rb").read()
px = raw[16:16 + 784]
print(json.dumps({"image": [list(px[r * 28:(r + 1) * 28]) for r in range(28)]}))
PY

# wrk counts answers by status per thread; done() sums them and prints one
# line of key=value pairs for the summary below.
cat >"$dir/post.lua" <<LUA
local threads = {}
function setup(thread) table.insert(threads, thread); thread:set("tid", #threads) end
function init(args)
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
	local f = io.open("$dir/body.json", "r")
	wrk.body = f:read("*a")
	f:close()
	statuses = {}
end
$(case "${IDEM:-}" in
on | off) cat <<IDEMLUA
local counter, prefix = 0, nil
function request()
	if prefix == nil then
		math.randomseed(os.time() + math.floor(os.clock() * 1e6))
		prefix = string.format("%x-%d-%x-", os.time(), tid, math.random(0, 2^30))
	end
	counter = counter + 1
	local hdrs = {["Content-Type"] = "application/json"}
	if "${IDEM}" == "on" then hdrs["Idempotency-Key"] = prefix .. counter end
	return wrk.format("POST", nil, hdrs, wrk.body)
end
IDEMLUA
;;
esac)
function response(status, headers, body)
	statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
	local total = {}
	for _, t in ipairs(threads) do
		for s, n in pairs(t:get("statuses")) do total[s] = (total[s] or 0) + n end
	end
	local e = summary.errors
	io.write(string.format("WRK rps=%.1f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f requests=%d s200=%d s503=%d other=%d sockerr=%d\n",
		summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
		summary.requests, total[200] or 0, total[503] or 0,
		summary.requests - (total[200] or 0) - (total[503] or 0),
		e.connect + e.read + e.write + e.timeout))
end
LUA

case "$db" in
sqlite)
	dburl="sqlite:$dir/load.db"
	rows() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from predictions").fetchone()[0])' "$dir/load.db"; }
	dbticks() { echo 0; }
	;;
postgres://* | postgresql://*)
	dburl="$db"
	name=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).path.lstrip("/"))' "$db")
	admin="${db/\/$name\?//postgres?}"
	if [ -z "$(psql -qAt "$admin" -c "select 1 from pg_database where datname = '$name'")" ]; then
		psql -q "$admin" -c "create database $name"
	fi
	rows() { psql -qAt "$dburl" -c 'select count(*) from predictions'; }
	# dbticks: CPU ticks of the PostgreSQL backends serving this database
	# (when PostgreSQL runs on this machine; the pool keeps them open).
	dbticks() {
		psql -qAt "$dburl" -c "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()" |
			while read -r pid; do cat "/proc/$pid/stat" 2>/dev/null || true; done | awk '{ t += $14 + $15 } END { print t + 0 }'
	}
	;;
*) echo "load.sh: DB must be a postgres:// URL or sqlite" >&2; exit 2 ;;
esac

# shellcheck disable=SC2086 # SERVE_FLAGS is a list of flags
"$app" serve --addr "127.0.0.1:$port" --db "$dburl" --models "$models" --watch 0 ${SERVE_FLAGS:-} 2>"$dir/server.log" &
server=$!
for _ in $(seq 120); do
	curl -fsS "$url/readyz" >/dev/null 2>&1 && break
	kill -0 "$server" 2>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
	sleep 0.5
done
curl -fsS "$url/readyz" >/dev/null || { echo "load.sh: server not ready" >&2; cat "$dir/server.log" >&2; exit 1; }

slow=
if [ "${SLOW_CLIENTS:-0}" -gt 0 ]; then
	python3 - "$port" "$SLOW_CLIENTS" <<'PY' &
import asyncio, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 4096
async def slow():
    while True:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            for i in range(len(head)):
                w.write(head[i:i + 1]); await w.drain(); await asyncio.sleep(1)
        except Exception:
            await asyncio.sleep(0.1)  # cut off by the server: open another
async def main(): await asyncio.gather(*(slow() for _ in range(n)))
asyncio.run(main())
PY
	slow=$!
	trap 'kill $slow 2>/dev/null || true; cleanup' EXIT
	sleep 3
	echo "load: $SLOW_CLIENTS slow clients sending headers a byte a second"
fi

# cputicks: the server's user+system CPU so far, in clock ticks; less
# sensitive to other work on a shared machine than requests per second.
cputicks() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }
# metric NAME: the server's value of a /metrics series (sum over labels).
metric() { curl -fsS "$url/metrics" | awk -v m="$1" 'index($0, m) == 1 { s += $NF } END { printf "%d\n", s }'; }
# admitted_p99: p99 of predict_admitted_duration_seconds since counts $1
# (a file of the histogram's buckets before the run), in ms; "-" when the
# server does not have the series (an older build).
buckets() { curl -fsS "$url/metrics" | grep '^predict_admitted_duration_seconds_bucket' || true; }
admitted_p99() {
	buckets >"$dir/after"
	python3 - "$1" "$dir/after" <<'PY'
import re, sys
def read(p):
    out = {}
    for line in open(p):
        m = re.search(r'le="([^"]+)"\} (\S+)', line)
        if m: out[float(m.group(1))] = float(m.group(2))
    return out
a, b = read(sys.argv[1]), read(sys.argv[2])
if not b: print("-"); sys.exit()
d = sorted((le, b[le] - a.get(le, 0)) for le in b)
total = d[-1][1]
for le, n in d:
    if total and n >= 0.99 * total:
        print("%.0f" % (le * 1000) if le != float("inf") else ">10000"); break
else: print("-")
PY
}

echo "load: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores; app $("$app" version 2>/dev/null || echo "$app"); db ${db%%\?*}; $conns connections, ${secs}s x $runs${IDEM:+; Idempotency-Key $IDEM}"
fail=0
: >"$dir/runs"
for run in $(seq "$runs"); do
	r0=$(rows)
	cpu0=$(cputicks) db0=$(dbticks)
	ok0=$(metric 'http_requests_total{method="POST",route="/predict",status="200"}')
	buckets >"$dir/before"
	out=$(wrk -t "$threads" -c "$conns" -d "${secs}s" --timeout 15s -s "$dir/post.lua" "$url/predict" 2>&1) || { echo "$out" >&2; exit 1; }
	line=$(grep '^WRK ' <<<"$out" | sed 's/^WRK //')
	sleep 1 # let the requests in flight when wrk stopped be answered
	r1=$(rows)
	cpu1=$(cputicks) db1=$(dbticks)
	ok1=$(metric 'http_requests_total{method="POST",route="/predict",status="200"}')
	added=$((r1 - r0)) served=$((ok1 - ok0))
	eval "$line" # rps p50_ms ... as shell variables
	cpureq=$(awk -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v n="$served" 'BEGIN { if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "-" }')
	dbreq=$(awk -v t=$((db1 - db0)) -v hz="$(getconf CLK_TCK)" -v n="$served" 'BEGIN { if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "-" }')
	rss=$(awk '/VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$server/status")
	ap99=$(admitted_p99 "$dir/before")
	check=ok
	# Every 200 has its row; the only rows beyond them belong to requests
	# wrk abandoned mid-commit when it stopped (at most one per connection).
	if [ "$added" -lt "$served" ] || [ "$added" -gt $((served + conns)) ] || [ "$s200" -gt "$served" ]; then
		check="FAIL rows added $added vs 200s sent $served"
		fail=1
	fi
	if [ "$other" -ne 0 ] || [ "$sockerr" -ne 0 ] || { [ "$allow503" = 0 ] && [ "$s503" -ne 0 ]; }; then check="FAIL errors"; fail=1; fi
	printf 'run %d: %s req/s  p50 %s ms  p99 %s ms  p99.9 %s ms  200s %s (server %s)  503s %s  other %s  socket errors %s  admitted p99 %s ms  rows added %s  peak RSS %s  server CPU %s us/req  database CPU %s us/req  %s\n' \
		"$run" "$rps" "$p50_ms" "$p99_ms" "$p999_ms" "$s200" "$served" "$s503" "$other" "$sockerr" "$ap99" "$added" "$rss" "$cpureq" "$dbreq" "$check"
	echo "$rps $p50_ms $p99_ms $p999_ms" >>"$dir/runs"
done
sort -n "$dir/runs" | awk -v n="$runs" 'NR == int((n + 1) / 2) { printf "median (by req/s): %s req/s  p50 %s ms  p99 %s ms  p99.9 %s ms\n", $1, $2, $3, $4 }'
exit "$fail"
