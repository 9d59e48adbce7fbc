#!/usr/bin/env bash
# Idempotency-Key under a race: starts `app serve` on a fresh PostgreSQL
# database (or SQLite) and sends PAIRS keyed POST /predict requests, each
# twice at once on two connections (a different MNIST test image per key).
# A 409 (the twin still in flight) is sent again until it gets its answer.
# Checks: every request ends 200; both members of a pair get the same body
# byte for byte (same id), exactly one of them marked Idempotent-Replayed;
# the table holds exactly PAIRS rows; then CHANGED of the keys sent again
# with another image get 422 and add no row. Exits non-zero when a check
# fails. With REPLICAS=2 a second server on the same database takes the
# second member of each pair, so the race is settled by the database (one
# insert wins, the other replays its rows) instead of by one server's 409.
#
# Settings (environment):
#   APP=./app  MODELS=saved_models (a folder holding a trained model)
#   DB=postgres://postgres@127.0.0.1:5432/mnist_idem?sslmode=disable
#              (the database is dropped and created afresh) or "sqlite"
#   PAIRS=1000 CHANGED=100 PARALLEL=32 (pairs in flight at once)
#   REPLICAS=1 (or 2)  PORT=18290 (the second replica: PORT+1)
set -euo pipefail
cd "$(dirname "$0")/.."
app="${APP:-./app}"
db="${DB:-postgres://postgres@127.0.0.1:5432/mnist_idem?sslmode=disable}"
models="${MODELS:-saved_models}"
port="${PORT:-18290}"
data="${MNIST_DIR:-data/mnist}"
[ -x "$app" ] || { echo "idem-pairs.sh: $app missing: make build" >&2; exit 2; }

dir=$(mktemp -d)
servers=()
cleanup() {
	for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT

case "$db" in
sqlite) dburl="sqlite:$dir/idem.db" ;;
postgres://* | postgresql://*)
	dburl="$db"
	name=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).path.lstrip("/"))' "$db")
	admin="${db/\/$name\?//postgres?}"
	PGOPTIONS='-c client_min_messages=warning' psql -q "$admin" -c "drop database if exists $name" -c "create database $name"
	;;
*) echo "idem-pairs.sh: DB must be a postgres:// URL or sqlite" >&2; exit 2 ;;
esac

replicas="${REPLICAS:-1}"
for r in $(seq 0 $((replicas - 1))); do
	"$app" serve --addr "127.0.0.1:$((port + r))" --db "$dburl" --models "$models" --watch 0 2>"$dir/server$r.log" &
	servers+=($!)
	for _ in $(seq 120); do
		curl -fsS "http://127.0.0.1:$((port + r))/readyz" >/dev/null 2>&1 && break
		kill -0 "${servers[$r]}" 2>/dev/null || { cat "$dir/server$r.log" >&2; exit 1; }
		sleep 0.5
	done
done

echo "idem-pairs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores; db ${db%%\?*}; $replicas replica(s)"
rc=0
python3 - "$port" "$data" "${PAIRS:-1000}" "${CHANGED:-100}" "${PARALLEL:-32}" "$replicas" <<'PY' || rc=$?
import gzip, http.client, json, os, sys, threading, time
from concurrent.futures import ThreadPoolExecutor

port, data, pairs, changed, parallel, replicas = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
p = os.path.join(data, "t10k-images-idx3-ubyte")
raw = gzip.open(p + ".gz").read() if os.path.exists(p + ".gz") else open(p, "rb").read()
def body(i):
    px = raw[16 + 784 * (i % 10000):16 + 784 * (i % 10000 + 1)]
    return json.dumps({"image": list(px)}).encode()

local = threading.local()
def post(key, b, replica=0):
    """POST /predict to a replica until it is not 409; returns (status, replayed, body, 409s seen)."""
    conflicts = 0
    while True:
        c = getattr(local, "conn", None)
        if c is None:
            c = local.conn = http.client.HTTPConnection("127.0.0.1", port + replica % replicas, timeout=30)
        try:
            c.request("POST", "/predict", b, {"Content-Type": "application/json", "Idempotency-Key": key})
            r = c.getresponse()
            out = r.read()
        except (OSError, http.client.HTTPException):
            local.conn = None
            raise
        if r.status != 409:
            return r.status, r.getheader("Idempotent-Replayed") == "true", out, conflicts
        conflicts += 1
        time.sleep(0.02)

def pair(i):
    gate = threading.Barrier(2, timeout=30)
    res = [None, None]
    def one(j):
        gate.wait()
        res[j] = post("pair-%d" % i, body(i), j)
    ts = [threading.Thread(target=one, args=(j,)) for j in (0, 1)]
    for t in ts: t.start()
    for t in ts: t.join()
    return res

start = time.time()
with ThreadPoolExecutor(parallel) as ex:
    results = list(ex.map(pair, range(pairs)))
took = time.time() - start
bad = []
conflicts = replayed_pairs = 0
for i, (a, b) in enumerate(results):
    conflicts += a[3] + b[3]
    if a[0] != 200 or b[0] != 200:
        bad.append("pair %d: statuses %d, %d" % (i, a[0], b[0])); continue
    if a[2] != b[2]:
        bad.append("pair %d: two answers %r / %r" % (i, a[2][:80], b[2][:80])); continue
    if a[1] == b[1]:
        bad.append("pair %d: replayed %s and %s, want exactly one" % (i, a[1], b[1])); continue
    replayed_pairs += 1
ids = {json.loads(a[2])["id"] for a, _ in results if a[0] == 200}
print("pairs %d in %.1fs: both 200 with one body %d; distinct ids %d; 409s retried %d" % (pairs, took, replayed_pairs, len(ids), conflicts))
statuses = {}
for i in range(changed):
    s = post("pair-%d" % i, body(i + 5000))[0]
    statuses[s] = statuses.get(s, 0) + 1
print("changed body, same key: %s" % statuses)
if statuses != {422: changed}:
    bad.append("changed bodies answered %s, want 422 each" % statuses)
for b in bad[:10]: print("FAIL", b)
sys.exit(1 if bad or len(ids) != pairs else 0)
PY
rows=$(case "$db" in
	sqlite) python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from predictions").fetchone()[0])' "$dir/idem.db" ;;
	*) psql -qAt "$dburl" -c 'select count(*) from predictions' ;;
	esac)
echo "rows stored: $rows (want ${PAIRS:-1000})"
[ "$rows" = "${PAIRS:-1000}" ] && [ "$rc" = 0 ] && echo "idem-pairs: ok" || { echo "idem-pairs: FAIL"; exit 1; }
