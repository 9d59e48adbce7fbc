#!/usr/bin/env bash
# Measure: models in PostgreSQL (--models db), three `app serve` replicas
# sharing nothing but the database. On a private PostgreSQL server (initdb
# in a temporary folder, port PG_PORT, never the machine's own) it
#   1. starts the three replicas at once on the empty database, with a
#      short first-boot training: exactly one must train, and all three
#      must serve its model;
#   2. saves a second model (app train --models db);
#   3. promotes on replica 1, RUNS times, alternating the two models, and
#      times how long until replicas 2 and 3 both serve the promoted one
#      (their --watch is 10 s: only LISTEN/NOTIFY makes it fast);
#   4. restarts PostgreSQL (pg_ctl restart), promotes at once, then checks
#      that every replica serves it and, once they listen again, times one
#      more promote.
# Prints each time and the median; the target is within 1 s.
# Needs root (PostgreSQL runs as user postgres), python3, curl and the
# MNIST files (MNIST_DIR, default data/mnist).
# Usage: APP=./app scripts/promote-latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
app="${APP:-./app}"
data="${MNIST_DIR:-data/mnist}"
pgport="${PG_PORT:-18190}"
ports=("${PORT1:-18101}" "${PORT2:-18102}" "${PORT3:-18103}")
runs="${RUNS:-3}"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
[ -x "$pgbin/initdb" ] || { echo "promote-latency.sh: no PostgreSQL binaries under /usr/lib/postgresql" >&2; exit 2; }

dir=$(mktemp -d)
chmod 755 "$dir"
servers=()
pg() { su postgres -s /bin/sh -c "$*"; }
pgstart() { pg "$pgbin/pg_ctl -D $dir/data -o '-p $pgport -k $dir -c listen_addresses=127.0.0.1' -l $dir/pg.log -w start" >/dev/null; }
cleanup() {
	for s in "${servers[@]}"; do kill "$s" 2>/dev/null && wait "$s" 2>/dev/null || true; done
	pg "$pgbin/pg_ctl -D $dir/data -m immediate stop" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
mkdir "$dir/data" && chown postgres "$dir" "$dir/data"
pg "$pgbin/initdb -D $dir/data -A trust -U postgres" >/dev/null
pgstart
url="postgres://postgres@127.0.0.1:$pgport/postgres?sslmode=disable"

# 1. Three replicas boot together on the empty database.
for i in 0 1 2; do
	"$app" serve --addr "127.0.0.1:${ports[$i]}" --db "$url" --models db --data "$data" \
		--train-epochs 1 --train-limit "${TRAIN_LIMIT:-2000}" --watch 10s 2>"$dir/server$i.log" &
	servers+=($!)
done
served() { curl -fsS "http://127.0.0.1:$1/model" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])' 2>/dev/null || true; }
for _ in $(seq 600); do
	v0=$(served "${ports[0]}"); v1=$(served "${ports[1]}"); v2=$(served "${ports[2]}")
	[ -n "$v0" ] && [ "$v0" = "$v1" ] && [ "$v1" = "$v2" ] && break
	for s in "${servers[@]}"; do kill -0 "$s" 2>/dev/null || { echo "FAIL: a replica exited" >&2; tail -n 5 "$dir"/server*.log >&2; exit 1; }; done
	sleep 0.5
done
trained=$(grep -l "no model yet: training one" "$dir"/server*.log | wc -l)
echo "first boot: $trained of 3 replicas trained; all serve ${v0:-nothing}"
if [ "$trained" != 1 ] || [ -z "$v0" ] || [ "$v0" != "$v2" ]; then
	echo "FAIL: want exactly one trainer and one model served by all three" >&2
	tail -n 20 "$dir"/server*.log >&2
	exit 1
fi

# 2. A second model to promote.
"$app" train --models db --db "$url" --data "$data" --epochs 1 --limit "${TRAIN_LIMIT:-2000}" --seed 2 >/dev/null

# 3 and 4. Promote on replica 1, time until replicas 2 and 3 serve it.
cat >"$dir/promote.py" <<'PY'
import json, statistics, sys, time, urllib.error, urllib.request
ports, runs, mode = sys.argv[1].split(","), int(sys.argv[2]), sys.argv[3]
def get(port, path):
    for attempt in range(200):  # right after a restart a pooled connection may fail once (503)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            if e.code != 503 or attempt == 199:
                raise
            time.sleep(0.05)
def served(port):
    try:
        return get(port, "/model")["version"]
    except Exception:
        return None
def promote_and_time():
    versions = [m["version"] for m in get(ports[0], "/models")["models"]]
    target = next(v for v in versions if v != served(ports[0]))
    t0 = time.monotonic()
    req = urllib.request.Request(f"http://127.0.0.1:{ports[0]}/models/{target}/promote", b"", method="POST")
    for attempt in range(200):  # right after a restart the first tries may find the database still away
        try:
            urllib.request.urlopen(req, timeout=5).read()
            break
        except Exception:
            time.sleep(0.05)
    waiting = set(ports[1:])
    while waiting and time.monotonic() - t0 < 30:
        waiting = {p for p in waiting if served(p) != target}
        time.sleep(0.002)
    took = time.monotonic() - t0
    if waiting:
        sys.exit(f"FAIL: replicas {sorted(waiting)} do not serve {target} after 30 s")
    return took
times = [promote_and_time() for _ in range(runs)]
for i, t in enumerate(times, 1):
    print(f"{mode} promote {i}: {t*1000:.0f} ms until all 3 replicas serve it")
if runs > 1:
    print(f"{mode} median of {runs}: {statistics.median(times)*1000:.0f} ms")
PY
python3 "$dir/promote.py" "$(IFS=,; echo "${ports[*]}")" "$runs" "steady"

pg "$pgbin/pg_ctl -D $dir/data -o '-p $pgport -k $dir -c listen_addresses=127.0.0.1' -l $dir/pg.log -m fast -w restart" >/dev/null
echo "PostgreSQL restarted"
python3 "$dir/promote.py" "$(IFS=,; echo "${ports[*]}")" 1 "right-after-restart"
sleep 3 # every listener has re-subscribed by now (they retry within 2 s)
python3 "$dir/promote.py" "$(IFS=,; echo "${ports[*]}")" "$runs" "after-restart"
grep -h "reconnecting" "$dir"/server*.log | head -n 3 || true
