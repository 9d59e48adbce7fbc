#!/usr/bin/env bash
# Fault: the replica training the first model is SIGKILLed. Two `app serve`
# replicas share nothing but an empty PostgreSQL database (--models db);
# once one of them has taken the training lease and started training, it is
# killed with SIGKILL. The other must take the lease over (PostgreSQL
# releases an advisory lock when its connection dies), train, and serve a
# model. Repeated RUNS times, each on a fresh database; prints the seconds
# from the kill to the survivor's first model, and the median.
# Needs psql, curl, python3 and the MNIST files (MNIST_DIR, default data/mnist).
# Usage: APP=./app PG=postgres://postgres@127.0.0.1:5432 scripts/trainer-kill.sh
set -euo pipefail
cd "$(dirname "$0")/.."
app="${APP:-./app}"
data="${MNIST_DIR:-data/mnist}"
pg="${PG:-postgres://postgres@127.0.0.1:5432}"
runs="${RUNS:-3}"
ports=("${PORT1:-18121}" "${PORT2:-18122}")
dir=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT

served() { curl -fsS "http://127.0.0.1:$1/model" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])' 2>/dev/null || true; }
times=()
failed=0
for run in $(seq "$runs"); do
	db="trainer_kill_$$_$run"
	psql -qAt "$pg/postgres?sslmode=disable" -c "create database $db" >/dev/null
	url="$pg/$db?sslmode=disable"
	pids=()
	for i in 0 1; do
		"$app" serve --addr "127.0.0.1:${ports[$i]}" --db "$url" --models db --data "$data" \
			--train-epochs "${TRAIN_EPOCHS:-2}" --train-limit "${TRAIN_LIMIT:-6000}" --watch 2s 2>"$dir/run$run.$i.log" &
		pids+=($!)
	done
	trainer=
	for _ in $(seq 300); do
		for i in 0 1; do
			if grep -q "training started" "$dir/run$run.$i.log" 2>/dev/null; then trainer=$i; break 2; fi
		done
		sleep 0.1
	done
	[ -n "$trainer" ] || { echo "run $run: FAIL: no replica started training" >&2; failed=$((failed + 1)); continue; }
	other=$((1 - trainer))
	kill -9 "${pids[$trainer]}"
	killed=$(date +%s.%N)
	version=
	for _ in $(seq 1200); do
		version=$(served "${ports[$other]}")
		[ -n "$version" ] && break
		kill -0 "${pids[$other]}" 2>/dev/null || break
		sleep 0.25
	done
	took=$(python3 -c "import time; print(round(time.time() - $killed, 1))")
	if [ -n "$version" ] && grep -q "no model yet: training one" "$dir/run$run.$other.log"; then
		echo "run $run: replica $trainer killed while training; replica $other took over and serves $version after ${took}s"
		times+=("$took")
	else
		echo "run $run: FAIL: replica $other serves '${version}' ${took}s after the kill" >&2
		tail -n 5 "$dir/run$run.$other.log" >&2
		failed=$((failed + 1))
	fi
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	psql -qAt "$pg/postgres?sslmode=disable" -c "drop database $db" >/dev/null
done
if [ ${#times[@]} -gt 0 ]; then
	echo "median seconds from the kill to a served model: $(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
fi
echo "$(( runs - failed )) passed, $failed failed"
[ "$failed" = 0 ]
