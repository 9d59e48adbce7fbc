#!/usr/bin/env bash
# End-to-end tracing test against a real OTLP receiver: an OpenTelemetry
# Collector built from its Go modules (scripts/otelcol/builder.yaml: the
# core OTLP receiver and the debug exporter, built by the collector builder
# ocb, itself installed through the Go module proxy). It starts the
# collector, starts `app serve` on SQLite with OTEL_EXPORTER_OTLP_ENDPOINT
# pointing at it, sends a few POST /predict with a traceparent of a trace
# id it draws, stops the server (which flushes its spans), and checks that
# the collector received that trace: the server span continuing the
# caller's span, its admit, queue, model and commit children, and the
# batch and group-commit spans linked to it. Exits non-zero when a check
# fails. Not part of make test: the first build of the collector takes
# minutes (later runs reuse it).
#
# Settings (environment):
#   APP=./app              binary to test (make build)
#   MODELS=saved_models    folder holding a trained model; with none the
#                          server first trains a small one from data/mnist
#   OTELCOL=               a collector binary with the otlp receiver and
#                          the debug exporter; empty: build one into
#                          $CACHE (once)
#   CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/app-trace-e2e
#   PROTOCOL=http/protobuf the OTLP protocol the app exports with (or grpc)
#   REQUESTS=3 PORT=18480 OTLP_HTTP_PORT=18481 OTLP_GRPC_PORT=18482
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
app="${APP:-./app}"
models="${MODELS:-saved_models}"
cache="${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/app-trace-e2e}"
protocol="${PROTOCOL:-http/protobuf}"
requests="${REQUESTS:-3}"
port="${PORT:-18480}" http_port="${OTLP_HTTP_PORT:-18481}" grpc_port="${OTLP_GRPC_PORT:-18482}"
ocb_version=v0.165.0 # keep beside the versions in scripts/otelcol/builder.yaml

[ -x "$app" ] || { echo "trace-e2e: $app missing: make build" >&2; exit 2; }

# The collector: the one given, or the one built here before, or a new one.
otelcol="${OTELCOL:-$cache/build/otelcol-trace-e2e}"
if [ ! -x "$otelcol" ]; then
	[ -z "${OTELCOL:-}" ] || { echo "trace-e2e: OTELCOL=$OTELCOL is not executable" >&2; exit 2; }
	echo "trace-e2e: building the collector into $cache (once; a few minutes)"
	mkdir -p "$cache"
	GOBIN="$cache" go install "go.opentelemetry.io/collector/cmd/builder@$ocb_version"
	cp scripts/otelcol/builder.yaml "$cache/builder.yaml"
	(cd "$cache" && CGO_ENABLED=0 ./builder --config builder.yaml >builder.log 2>&1) ||
		{ tail -20 "$cache/builder.log" >&2; exit 1; }
fi

dir=$(mktemp -d)
collector= server=
stop() { # stop PID: SIGTERM, then wait for it to exit
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	stop "$server"
	stop "$collector"
	rm -rf "$dir"
}
trap cleanup EXIT

. scripts/otelcol/start.sh
start_collector "$otelcol" "$dir" detailed "$http_port" "$grpc_port"
echo "trace-e2e: collector $otelcol on 127.0.0.1:$http_port (HTTP) and :$grpc_port (gRPC)"

endpoint="http://127.0.0.1:$http_port"
[ "$protocol" = grpc ] && endpoint="http://127.0.0.1:$grpc_port"
OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" OTEL_EXPORTER_OTLP_PROTOCOL="$protocol" OTEL_SERVICE_NAME=trace-e2e \
	"$app" serve --addr "127.0.0.1:$port" --db "sqlite:$dir/e2e.db" --models "$models" --watch 0 \
	--train-epochs 1 --train-limit 3000 2>"$dir/server.log" &
server=$!
url="http://127.0.0.1:$port"
for _ in $(seq 600); do
	curl -fsS "$url/readyz" >/dev/null 2>&1 && break
	kill -0 "$server" 2>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
	sleep 0.5
done
curl -fsS "$url/readyz" >/dev/null || { echo "trace-e2e: server not ready" >&2; tail "$dir/server.log" >&2; exit 1; }
grep -m1 "tracing on" "$dir/server.log" | sed 's/^/trace-e2e: server: /'

trace=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
parent=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
body=$(python3 -c 'import json; print(json.dumps({"image": [[255 if c == 14 and 4 <= r < 24 else 0 for c in range(28)] for r in range(28)]}))')
fail=0
for i in $(seq "$requests"); do
	hdr=$(curl -fsS -o /dev/null -D - -H 'Content-Type: application/json' \
		-H "traceparent: 00-$trace-$parent-01" --data "$body" "$url/predict" | tr -d '\r')
	tr=$(awk -F': ' 'tolower($1) == "traceresponse" { print $2 }' <<<"$hdr")
	echo "trace-e2e: POST /predict $i: traceresponse $tr"
	case "$tr" in 00-"$trace"-*-01) ;; *) echo "trace-e2e: FAIL: traceresponse is not of trace $trace" >&2; fail=1 ;; esac
done

stop "$server" # flushes the spans still batched, and the log lines (written in batches)
server=
grep -q "trace_id=$trace" "$dir/server.log" || { echo "trace-e2e: FAIL: no log line with trace_id=$trace" >&2; fail=1; }
sleep 1 # the collector prints what it received

# Each span the debug exporter prints: "trace span parent name", and for
# each of its links "link span linked-trace linked-span".
awk '
	/^ +Trace ID +:/ { t = $NF; next }
	/^ +Parent ID +:/ { p = ($4 == "") ? "-" : $NF; next }
	/^ +ID +:/ { s = $NF; next }
	/^ +Name +:/ { print "span", t, s, p, substr($0, index($0, ":") + 2); next }
	/^ +-> Trace ID:/ { lt = $NF; next }
	/^ +-> ID:/ { print "link", s, lt, $NF }
' "$dir/collector.log" >"$dir/spans"
echo "trace-e2e: the collector received $(grep -c '^span ' "$dir/spans") spans; of trace $trace:"
grep "^span $trace " "$dir/spans" | cut -d' ' -f5- | sort | uniq -c | sed 's/^/  /'

# check WHAT CONDITION: count a failed check.
check() {
	if eval "$2"; then echo "trace-e2e: ok: $1"; else echo "trace-e2e: FAIL: $1" >&2; fail=1; fi
}
servers=$(awk -v t="$trace" -v p="$parent" '$1 == "span" && $2 == t && $4 == p && $5 == "POST" && $6 == "/predict" { print $3 }' "$dir/spans")
check "$requests server spans POST /predict under the caller's span $parent" '[ "$(wc -w <<<"$servers")" -eq "$requests" ]'
for name in pipeline.admit pipeline.queue pipeline.model pipeline.commit; do
	n=$(for s in $servers; do awk -v s="$s" -v n="$name" '$1 == "span" && $4 == s && $5 == n' "$dir/spans"; done | wc -l)
	check "$name under each server span ($n)" '[ "$n" -eq "$requests" ]'
done
# The batch and group-commit spans are roots of their own traces, linked
# into this one: the batch to the server spans, the commit to the
# pipeline.commit spans. A model call that served one request alone (the
# requests here are sent one after another) has no pipeline.batch span:
# that request's pipeline.model, with no link, stands for it.
linked() { # linked NAME: spans called NAME with a link into the trace
	awk -v t="$trace" -v n="$1" '$1 == "span" && $5 == n { name[$3] = 1 } $1 == "link" && $3 == t && name[$2] { print $2 }' "$dir/spans" | sort -u | wc -l
}
# Of this trace's pipeline.model spans: those linked to a pipeline.batch
# span, and those with no link (a lone request's model call).
read -r nbm nalone < <(awk -v t="$trace" '
	$1 == "span" && $2 == t && $5 == "pipeline.model" { model[$3] = 1 }
	$1 == "span" && $5 == "pipeline.batch" { batch[$3] = 1 }
	$1 == "link" { to[$2] = $4 }
	END {
		for (s in model) if (!(s in to)) alone++; else if (to[s] in batch) batched++
		print batched + 0, alone + 0
	}' "$dir/spans")
nc=$(linked store.commit)
check "each pipeline.model links to a pipeline.batch ($nbm) or ran alone ($nalone)" '[ $((nbm + nalone)) -eq "$requests" ]'
check "store.commit spans linked into the trace ($nc)" '[ "$nc" -ge 1 ]'
exit "$fail"
