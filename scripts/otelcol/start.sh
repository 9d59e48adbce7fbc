# Sourced by trace-e2e.sh and trace-cost.sh: start_collector BIN DIR
# VERBOSITY HTTP_PORT [GRPC_PORT] writes DIR/collector.yaml (the OTLP
# receiver on 127.0.0.1, HTTP and, with GRPC_PORT, gRPC; the debug exporter
# at VERBOSITY, every export logged), starts the collector BIN with it
# (its log in DIR/collector.log), sets $collector to its PID and waits
# until it is ready; exits the script if it dies first or is not ready
# within 30 s.
start_collector() {
	local bin=$1 dir=$2 verbosity=$3 http_port=$4 grpc_port=${5:-}
	{
		echo "receivers:"
		echo "  otlp:"
		echo "    protocols:"
		echo "      http: {endpoint: \"127.0.0.1:$http_port\"}"
		[ -z "$grpc_port" ] || echo "      grpc: {endpoint: \"127.0.0.1:$grpc_port\"}"
		cat <<YAML
exporters:
  debug: {verbosity: $verbosity}
service:
  telemetry:
    metrics: {level: none}
    logs: {sampling: {enabled: false}} # else only the first 10 exports a 10 s are printed
  pipelines:
    traces: {receivers: [otlp], exporters: [debug]}
YAML
	} >"$dir/collector.yaml"
	"$bin" --config "$dir/collector.yaml" 2>"$dir/collector.log" &
	collector=$!
	for _ in $(seq 150); do
		grep -q "Everything is ready" "$dir/collector.log" 2>/dev/null && return 0
		kill -0 "$collector" 2>/dev/null || { cat "$dir/collector.log" >&2; exit 1; }
		sleep 0.2
	done
	echo "start_collector: $bin not ready after 30 s; its log:" >&2
	tail -20 "$dir/collector.log" >&2
	exit 1
}
