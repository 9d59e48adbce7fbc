#!/usr/bin/env bash
# Fault script: PostgreSQL stopped under load. Starts a private PostgreSQL
# server (initdb in a temporary folder, port PG_PORT, never the machine's
# own), serves on it, posts /predict from 8 clients for 24 s, stops
# PostgreSQL at 6 s and starts it again at 14 s, then checks:
#   - while it is down, /predict answers 503 (JSON error) within the
#     request timeout, never a 200;
#   - every id answered 200 is in the table (no 200 without its row);
#   - after it is back, /predict answers 200 again without a server restart;
#   - no status other than 200 and 503, no connection error.
# Needs root (PostgreSQL runs as user postgres) and python3.
# Usage: APP=./app MODELS=saved_models scripts/pg-outage.sh
set -euo pipefail
cd "$(dirname "$0")/.."
app="${APP:-./app}"
models="${MODELS:-saved_models}"
pgport="${PG_PORT:-18390}"
port="${PORT:-18381}"
timeout_s=3 # --timeout of the server: 503s must come within it
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
[ -x "$pgbin/initdb" ] || { echo "pg-outage.sh: no PostgreSQL binaries under /usr/lib/postgresql" >&2; exit 2; }

dir=$(mktemp -d)
chmod 755 "$dir"
server=
pg() { su postgres -s /bin/sh -c "$*"; }
cleanup() {
	if [ -n "$server" ]; then kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true; fi
	pg "$pgbin/pg_ctl -D $dir/data -m immediate stop" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
mkdir "$dir/data" && chown postgres "$dir" "$dir/data"
pg "$pgbin/initdb -D $dir/data -A trust -U postgres" >/dev/null
pg "$pgbin/pg_ctl -D $dir/data -o '-p $pgport -k $dir -c listen_addresses=127.0.0.1' -l $dir/pg.log -w start" >/dev/null
url="postgres://postgres@127.0.0.1:$pgport/postgres?sslmode=disable"

"$app" serve --addr "127.0.0.1:$port" --db "$url" --models "$models" --watch 0 --timeout "${timeout_s}s" 2>"$dir/server.log" &
server=$!
for _ in $(seq 120); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.5; done

python3 - "$port" "$timeout_s" "$dir/ids" <<'PY' &
import json, sys, threading, time, urllib.request, urllib.error
port, limit, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
body = json.dumps({"image": [[(r * c) % 256 for c in range(28)] for r in range(28)]}).encode()
ids, lock, log = [], threading.Lock(), []
start = time.time()
def client():
    while time.time() - start < 24:
        t0 = time.time()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/predict", body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, answer = r.status, json.load(r)
        except urllib.error.HTTPError as e:
            status, answer = e.code, json.load(e)
        except Exception as e:
            status, answer = "conn-error", str(e)
        with lock:
            log.append((t0 - start, time.time() - t0, status))
            if status == 200: ids.append(answer["id"])
threads = [threading.Thread(target=client) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
json.dump({"ids": ids, "log": log}, open(out, "w"))
PY
load=$!
sleep 6
pg "$pgbin/pg_ctl -D $dir/data -m fast stop" >/dev/null
echo "pg-outage: PostgreSQL stopped at 6 s"
sleep 8
pg "$pgbin/pg_ctl -D $dir/data -o '-p $pgport -k $dir -c listen_addresses=127.0.0.1' -l $dir/pg.log -w start" >/dev/null
echo "pg-outage: PostgreSQL started again at 14 s"
wait "$load"

stored=$(psql -qAt "$url" -c 'select id from predictions')
python3 - "$dir/ids" "$timeout_s" <<PY
import json, sys
d = json.load(open(sys.argv[1])); limit = float(sys.argv[2])
stored = set(int(x) for x in """$stored""".split())
log = d["log"]
by = lambda lo, hi: [s for t, _, s in log if lo <= t < hi]
down = [(t, took, s) for t, took, s in log if 6.5 <= t < 13.5]
missing = [i for i in d["ids"] if i not in stored]
odd = sorted(set(s for _, _, s in log) - {200, 503})
slow503 = max([took for _, took, s in log if s == 503] or [0])
print(f"pg-outage: {len(log)} requests: {by(0, 6).count(200)} x 200 before, "
      f"{sum(1 for *_, s in down if s == 503)} x 503 and {sum(1 for *_, s in down if s == 200)} x 200 while down, "
      f"{by(16, 25).count(200)} x 200 after; slowest 503 {slow503:.2f} s; "
      f"{len(d['ids'])} ids answered 200, {len(missing)} of them missing from the table")
ok = not missing and not odd and by(16, 25).count(200) > 0 and slow503 <= limit + 1 \
     and not any(s == 200 for *_, s in down) and any(s == 503 for *_, s in down)
if odd: print(f"pg-outage: unexpected outcomes {odd}")
print("pg-outage: " + ("ok" if ok else "FAIL"))
sys.exit(0 if ok else 1)
PY
