#!/usr/bin/env bash
# What tracing costs under load (issue 21's target: tracing on, every
# request sampled and exported to a receiver on the same host, within 15%
# of tracing off). Starts the OpenTelemetry Collector of trace-e2e.sh (built
# there once) with its debug exporter at verbosity basic, then runs
# scripts/load.sh (PostgreSQL, 64 connections) alternately with no OTEL_*
# variable (off) and with OTEL_EXPORTER_OTLP_ENDPOINT at the collector and
# OTEL_TRACES_SAMPLER=always_on (on), ROUNDS times, each run on a freshly
# started server, the order flipping every round (off, on; then on, off)
# so that a drift of the host's pace is not charged to one side. Prints
# each run, the medians of each mode, on / off, and the collector's CPU a
# request in the "on" runs (it shares the cores, so wrk's req/s counts it
# against "on"; the server's CPU a request does not).
#
# Settings (environment): APP=./app ROUNDS=3 SECS=15, DB, MODELS, CONNS as
# load.sh reads them, OTELCOL and CACHE as trace-e2e.sh reads them,
# OTLP_HTTP_PORT=18581, PROTOCOL=http/protobuf (or grpc: the server
# exports by OTLP/gRPC, to the collector's port OTLP_GRPC_PORT=18582).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-3}" secs="${SECS:-15}"
http_port="${OTLP_HTTP_PORT:-18581}" grpc_port="${OTLP_GRPC_PORT:-18582}"
protocol="${PROTOCOL:-http/protobuf}"
case "$protocol" in
http/protobuf) endpoint="http://127.0.0.1:$http_port" ;;
grpc) endpoint="http://127.0.0.1:$grpc_port" ;;
*) echo "trace-cost.sh: PROTOCOL=$protocol: http/protobuf or grpc" >&2; exit 2 ;;
esac
cache="${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/app-trace-e2e}"
otelcol="${OTELCOL:-$cache/build/otelcol-trace-e2e}"
[ -x "$otelcol" ] || { echo "trace-cost.sh: no collector at $otelcol: run scripts/trace-e2e.sh once to build it" >&2; exit 2; }

dir=$(mktemp -d)
collector=
cleanup() {
	if [ -n "$collector" ]; then kill "$collector" 2>/dev/null && wait "$collector" 2>/dev/null || true; fi
	rm -rf "$dir"
}
trap cleanup EXIT
. scripts/otelcol/start.sh
start_collector "$otelcol" "$dir" basic "$http_port" "$grpc_port"
ticks() { awk '{ print $14 + $15 }' "/proc/$collector/stat"; }
hz=$(getconf CLK_TCK)

for r in $(seq "$rounds"); do
	order="off on"
	[ $((r % 2)) -eq 0 ] && order="on off"
	for mode in $order; do
		before=$(ticks)
		if [ "$mode" = on ]; then
			line=$(OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" OTEL_EXPORTER_OTLP_PROTOCOL="$protocol" OTEL_TRACES_SAMPLER=always_on \
				RUNS=1 SECS="$secs" scripts/load.sh | grep '^run 1:') || { echo "trace-cost.sh: load.sh failed (on)" >&2; exit 1; }
		else
			line=$(env -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_EXPORTER_OTLP_TRACES_ENDPOINT \
				RUNS=1 SECS="$secs" scripts/load.sh | grep '^run 1:') || { echo "trace-cost.sh: load.sh failed (off)" >&2; exit 1; }
		fi
		after=$(ticks)
		line=${line#run 1: }
		rps=$(awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "req/s") { print $i; exit } }' <<<"$line")
		cpu=$(awk '{ for (i = 1; i < NF; i++) if ($i == "server" && $(i+1) == "CPU") { print $(i+2); exit } }' <<<"$line")
		col=$(awk -v t=$((after - before)) -v hz="$hz" -v rps="$rps" -v s="$secs" 'BEGIN { printf "%.1f", t / hz * 1e6 / (rps * s) }')
		echo "round $r, tracing $mode: $line; collector $col us CPU/req"
		echo "$mode $rps ${cpu%us} $col" >>"$dir/runs"
	done
done
python3 - "$dir/runs" <<'PY'
import statistics, sys
runs = {"off": [], "on": []}
for line in open(sys.argv[1]):
    m, rps, cpu, col = line.split()
    runs[m].append((float(rps), float(cpu), float(col)))
med = {m: [statistics.median(x[i] for x in v) for i in range(3)] for m, v in runs.items()}
for m in ("off", "on"):
    extra = ", collector %.1f us CPU/req" % med[m][2] if m == "on" else ""
    print("tracing %-3s: median %.0f req/s, server %.0f us CPU/req%s, %d runs" % (m, med[m][0], med[m][1], extra, len(runs[m])))
print("on / off: %.3f of the requests/s (target at least 0.85)" % (med["on"][0] / med["off"][0]))
pairs = [on[0] / off[0] for off, on in zip(runs["off"], runs["on"])]
print("on / off by round: %s (median %.3f)" % (" ".join("%.3f" % p for p in pairs), statistics.median(pairs)))
PY
