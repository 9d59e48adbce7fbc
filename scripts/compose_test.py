#!/usr/bin/env python3
"""The deployment test: runs docker-compose.yml for real and checks it.

Run by scripts/compose-test.sh (make compose-test), which first makes sure
Docker and the stand-in base images are there. Standard library only.

It builds the image with docker-compose, makes an admin and a predict
token with `app keys add` (keys in the database: API_KEYS_FILE=db; the load
carries the predict token, Prometheus the admin one), then on an empty
database and no shared volume starts the database, three web replicas,
nginx and Prometheus, and checks, in order:
  - exactly one replica trains the first model while the others wait
    (elected through the database), and then every replica serves that
    model;
  - Prometheus scrapes every replica (its /api/v1/targets: all up);
  - nginx forwards the token (401 without it, 200 with it);
  - predictions through nginx are spread over the replicas, and every 200
    has its row in the database;
  - a model trained by `app train` reaches every replica, and a promote
    through one replica's admin API is served by all three within 1 s;
  - a replica killed with SIGKILL under 32 connections: no request waits
    more than 2 s and none fails (nginx resends the ones the dead replica
    held, with their Idempotency-Key), the rows stored are exactly the
    distinct ids answered, and no key is stored twice;
  - the database restarted under load: 503s, then recovery without any
    restart of web;
  - a wrong password or a missing database stops web with an error that
    says so;
  - `down` then `up` keeps the rows and the model.
Traffic goes only to nginx's port on 127.0.0.1 and to the replicas'
addresses on the compose network this test creates. It prints the figures
and ends with a line "N passed, N failed"; the exit code is 1 when a check
failed.
"""

import argparse
import http.client
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKER = "/usr/bin/docker"
REPLICAS = 3
MAX_WAIT = 2.0  # seconds no request through nginx may take during a failover
PROMOTE_WITHIN = 1.0  # seconds from a promote on one replica until all serve it


class Checks:
    """Counts named checks and prints each as it is decided."""

    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, name, ok, detail=""):
        line = ("PASS " if ok else "FAIL ") + name + (": " + detail if detail else "")
        print(line, flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed.append(name)
        return ok


def log(*args):
    print("compose-test:", *args, flush=True)


class Deployment:
    """docker-compose with the test's project name, files and environment."""

    def __init__(self, project, port):
        self.project = project
        self.port = port
        self.prometheus_port = port - 20
        self.env = dict(os.environ)
        self.token = None  # a predict token, made by make_tokens
        self.admin = None  # an admin token, made by make_tokens
        # The file Prometheus reads the admin token from (a compose secret).
        self.token_file = "/tmp/%s-metrics-token" % project
        self.env.update({
            "POSTGRES_USER": "mnist",
            "POSTGRES_PASSWORD": secrets.token_hex(12),
            "POSTGRES_DB": "mnist",
            "PGADMIN_DEFAULT_EMAIL": "admin@example.com",
            "PGADMIN_DEFAULT_PASSWORD": secrets.token_hex(12),
            "NGINX_PORT": "127.0.0.1:%d" % port,
            # One client sends all the load, far above the default per-token
            # limit; the limit has its own tests (serve/ratelimit).
            "RATE_LIMIT": "0",
            "PGADMIN_PORT": str(port - 30),
            "PROMETHEUS_PORT": str(self.prometheus_port),
            "METRICS_TOKEN_FILE": self.token_file,
            # docker-compose hands the build to `docker build` with
            # BuildKit, whose cache mounts (see Dockerfile) keep Go's caches
            # between runs; Debian's client, which has BuildKit built in,
            # comes first in PATH.
            "COMPOSE_DOCKER_CLI_BUILD": "1",
            "DOCKER_BUILDKIT": "1",
            "PATH": "/usr/bin:" + os.environ.get("PATH", ""),
        })

    def compose(self, *args, check=True, capture=True, timeout=900, stderr=subprocess.STDOUT):
        cmd = ["docker-compose", "-p", self.project, "-f", "docker-compose.yml",
               "-f", "docker-compose.ci.yml"] + list(args)
        r = subprocess.run(cmd, cwd=ROOT, env=self.env, timeout=timeout,
                           stdout=subprocess.PIPE if capture else None,
                           stderr=stderr if capture else None, text=True)
        if check and r.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s" % (" ".join(cmd), r.returncode, (r.stdout or "")[-3000:]))
        return r

    def keys_add(self, role, name):
        """Makes a token with `app keys add` into the database (the web
        service's API_KEYS_FILE=db), as the README tells users to; it
        prints the token alone on stdout. docker-compose run starts the
        database first."""
        # Tried twice: once in many runs `docker-compose run` failed here
        # with nothing said on stdout; the second try shows whether it lasts.
        for attempt in (1, 2):
            r = self.compose("run", "--rm", "-T", "web", "keys", "add", "--role", role,
                             "%s%d" % (name, attempt), stderr=subprocess.PIPE, check=False)
            lines = [l.strip() for l in r.stdout.splitlines() if l.strip()]
            if r.returncode == 0 and lines:
                return lines[-1]
            log("keys add failed (exit %d, try %d): %s" % (r.returncode, attempt, r.stderr[-2000:]))
            time.sleep(2)
        raise RuntimeError("keys add failed twice")

    def make_tokens(self):
        """A predict token for the load, an admin token for promotes and
        for Prometheus, written where its compose secret reads it (owned by
        nobody, whom Prometheus runs as)."""
        # docker-compose reads the whole file, secrets included, even to
        # run one service: the token file must exist before the first run.
        with open(self.token_file, "w") as f:
            pass
        self.token = self.keys_add("predict", "composetest")
        self.admin = self.keys_add("admin", "prometheus")
        with open(self.token_file, "w") as f:
            f.write(self.admin + "\n")
        os.chown(self.token_file, 65534, 65534)
        os.chmod(self.token_file, 0o400)

    def admin_auth(self):
        return {"Authorization": "Bearer " + self.admin} if self.admin else {}

    def auth(self):
        return {"Authorization": "Bearer " + self.token} if self.token else {}

    def containers(self, service):
        out = self.compose("ps", "-q", service).stdout.split()
        return sorted(out)

    def psql(self, sql):
        r = self.compose("exec", "-T", "db", "psql", "-U", self.env["POSTGRES_USER"],
                         "-d", self.env["POSTGRES_DB"], "-Atc", sql)
        return r.stdout.strip()


def docker(*args, check=True):
    r = subprocess.run([DOCKER] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("docker %s failed: %s" % (" ".join(args), r.stdout[-2000:]))
    return r.stdout


def inspect(cid, fmt):
    return docker("inspect", "-f", fmt, cid).strip()


def container_ip(cid):
    return inspect(cid, "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}").split()[0]


def http_get(host, port, path, timeout=3, headers=None):
    """GET host:port/path; returns (status, parsed JSON or None), status 0 on no answer."""
    try:
        c = http.client.HTTPConnection(host, port, timeout=timeout)
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        c.close()
        try:
            return r.status, json.loads(body)
        except ValueError:
            return r.status, None
    except (OSError, http.client.HTTPException):
        return 0, None


def volumes_of(cid):
    """The volumes (named or anonymous) mounted in a container."""
    out = inspect(cid, '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}')
    return out.split()


def shared_volumes(cids):
    """Volumes mounted in more than one of the containers."""
    seen = {}
    for c in cids:
        for v in volumes_of(c):
            seen[v] = seen.get(v, 0) + 1
    return sorted(v for v, n in seen.items() if n > 1)


def http_post(host, port, path, body=b"", timeout=5, headers=None):
    """POST host:port/path; returns (status, parsed JSON or None), status 0 on no answer."""
    try:
        c = http.client.HTTPConnection(host, port, timeout=timeout)
        c.request("POST", path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, None
    except (OSError, http.client.HTTPException):
        return 0, None


def served_versions(dep, cids):
    """{cid: version of GET /model} of each replica, None where it did not answer."""
    out = {}
    for c in cids:
        _, meta = http_get(container_ip(c), 5000, "/model", timeout=1, headers=dep.admin_auth())
        out[c] = (meta or {}).get("version")
    return out


def wait_all_serve(dep, cids, version, timeout):
    """Polls every replica's GET /model until all serve version; returns the
    seconds it took, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if all(v == version for v in served_versions(dep, cids).values()):
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


def digit_images(n, seed=1):
    """n 28x28 images of strokes, as the JSON body /predict takes."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(n):
        img = [[0] * 28 for _ in range(28)]
        x0, x1 = rng.randint(8, 19), rng.randint(8, 19)
        for y in range(5, 23):
            x = x0 + (x1 - x0) * (y - 5) // 18
            for dx in range(-1, 2):
                img[y][x + dx] = 255
        if rng.random() < 0.5:  # a bar across: something like a 7 or a 4
            y = rng.randint(5, 14)
            for x in range(8, 21):
                img[y][x] = 200
        bodies.append(json.dumps({"image": img}).encode())
    return bodies


class Load:
    """Closed-loop load through nginx: each worker sends one POST /predict
    after another on its own keep-alive connection, recording for each
    request its start, end, status and the stored id of a 200."""

    def __init__(self, dep, workers, seconds, tag, after=0):
        self.port = dep.port
        self.headers = dict(dep.auth(), **{"Content-Type": "application/json"})
        self.workers = workers
        self.seconds = seconds
        self.tag = tag
        self.after = after  # seconds the load goes on after during() returns
        self.stop_at = None
        self.results = []  # (start, end, status, id or None, error text)
        self.lock = threading.Lock()
        self.bodies = digit_images(16)

    def worker(self, n):
        conn = None
        i = 0
        while time.monotonic() < self.stop_at:
            body = self.bodies[(n + i) % len(self.bodies)]
            i += 1
            start = time.monotonic()
            status, rid, err = 0, None, ""
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("POST", "/predict?compose-test=%s" % self.tag, body=body, headers=self.headers)
                r = conn.getresponse()
                data = r.read()
                status = r.status
                if status == 200:
                    rid = json.loads(data)["id"]
                elif status >= 500:
                    err = data[:200].decode("utf-8", "replace")
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
                err = repr(e)
                if conn is not None:
                    conn.close()
                conn = None
            end = time.monotonic()
            with self.lock:
                self.results.append((start, end, status, rid, err))
        if conn is not None:
            conn.close()

    def run(self, during=None):
        """Runs the load for its seconds; during(t0), if given, runs in this
        thread meanwhile, and the load goes on for `after` seconds more once
        it returns, however long it took."""
        t0 = time.monotonic()
        self.stop_at = t0 + self.seconds
        threads = [threading.Thread(target=self.worker, args=(n,)) for n in range(self.workers)]
        for t in threads:
            t.start()
        if during is not None:
            during(t0)
            self.stop_at = max(self.stop_at, time.monotonic() + self.after)
        for t in threads:
            t.join()
        return t0

    def statuses(self):
        counts = {}
        for r in self.results:
            counts[r[2]] = counts.get(r[2], 0) + 1
        return counts

    def ids(self):
        return {r[3] for r in self.results if r[2] == 200}


def stored_ids(dep, ids):
    """The ids among ids that have a row."""
    if not ids:
        return set()
    out = dep.psql("select id from predictions where id in (%s)" % ",".join(str(i) for i in sorted(ids)))
    return {int(x) for x in out.split()}


def nginx_lines(dep, tag):
    """nginx access log lines of requests tagged tag."""
    cid = dep.containers("nginx")[0]
    out = docker("logs", cid)
    return [l for l in out.splitlines() if "compose-test=%s " % tag in l]


def upstream_spread(lines):
    """Answers by replica address, from nginx log lines (the last address
    of upstream=, the one that answered)."""
    spread = {}
    for l in lines:
        m = re.search(r"upstream=(\S+)", l)
        if not m or m.group(1) == "-":
            continue
        addr = m.group(1).split(",")[-1].strip()
        spread[addr] = spread.get(addr, 0) + 1
    return spread


def request_times(lines):
    return [float(m.group(1)) for m in (re.search(r"request_time=([0-9.]+)", l) for l in lines) if m]


def wait_ready(dep, timeout, expect_trained=None):
    """Waits until REPLICAS web containers are healthy and each answers
    /readyz 200 on its own address; returns (seconds to healthy, seconds to
    ready, {cid: model version})."""
    t0 = time.monotonic()
    healthy_at = ready_at = None
    versions = {}
    while time.monotonic() - t0 < timeout:
        cids = dep.containers("web")
        if len(cids) == REPLICAS:
            health = [inspect(c, "{{.State.Health.Status}}") for c in cids]
            if healthy_at is None and all(h == "healthy" for h in health):
                healthy_at = time.monotonic() - t0
            if ready_at is None:
                ok = True
                for c in cids:
                    status, _ = http_get(container_ip(c), 5000, "/readyz")
                    ok = ok and status == 200
                if ok:
                    ready_at = time.monotonic() - t0
                    for c in cids:
                        _, meta = http_get(container_ip(c), 5000, "/model", headers=dep.auth())
                        versions[c] = (meta or {}).get("version")
            if healthy_at is not None and ready_at is not None:
                break
        time.sleep(0.5)
    return healthy_at, ready_at, versions


def phase_start(dep, checks, figures):
    log("starting db, %d web replicas and nginx on empty volumes" % REPLICAS)
    t0 = time.monotonic()
    dep.compose("up", "-d", "--scale", "web=%d" % REPLICAS, "db", "web", "nginx", "prometheus")
    up_s = time.monotonic() - t0
    healthy, ready, versions = wait_ready(dep, 600)
    figures["up command (s)"] = round(up_s, 1)
    figures["first start, up to all replicas healthy (s)"] = healthy and round(healthy + up_s, 1)
    figures["first start, up to all replicas serving the trained model (s)"] = ready and round(ready + up_s, 1)
    if not checks.check("all %d replicas become healthy and ready" % REPLICAS, healthy is not None and ready is not None,
                        "healthy after %s s, ready after %s s" % (healthy, ready)):
        return False
    cids = dep.containers("web")
    logs = {c: docker("logs", c) for c in cids}
    figures["first start: web volumes"] = sorted({m for c in cids for m in volumes_of(c)})
    checks.check("no volume is shared between web replicas", not shared_volumes(cids),
                 "shared: %s" % shared_volumes(cids))
    trained = [c for c in cids if "no model yet: training one" in logs[c]]
    waited = [c for c in cids if "another process is training the first model" in logs[c]]
    checks.check("exactly one replica trains the first model", len(trained) == 1,
                 "%d trained: %s" % (len(trained), ", ".join(inspect(c, "{{.Name}}") for c in trained)))
    checks.check("the other replicas wait for it instead of training", len(waited) == REPLICAS - 1 and not set(waited) & set(trained),
                 "%d waited" % len(waited))
    vs = set(versions.values())
    checks.check("every replica serves that one model", len(vs) == 1 and None not in vs, "versions %s" % sorted(map(str, vs)))
    figures["model version"] = next(iter(vs)) if len(vs) == 1 else None
    return True


def phase_prometheus(dep, checks, figures):
    """Prometheus finds every replica through DNS and scrapes it with the
    admin token."""
    want = {container_ip_on(c, "metrics") for c in dep.containers("web")}
    t0 = time.monotonic()
    up, seen = set(), []
    while time.monotonic() - t0 < 90:
        status, body = http_get("127.0.0.1", dep.prometheus_port, "/api/v1/targets?state=active")
        if status == 200 and body:
            seen = [(t.get("labels", {}).get("job"), t.get("labels", {}).get("instance"), t.get("health"), t.get("lastError"))
                    for t in body.get("data", {}).get("activeTargets", [])]
            up = {inst.rsplit(":", 1)[0] for job, inst, health, _ in seen if job == "mnist-web" and health == "up"}
            if up == want:
                break
        time.sleep(1)
    figures["prometheus: every replica up after (s)"] = round(time.monotonic() - t0, 1) if up == want else None
    checks.check("Prometheus scrapes every replica and finds it up", up == want and len(want) == REPLICAS,
                 "want %s, targets %s" % (sorted(want), seen))
    status, body = http_get("127.0.0.1", dep.prometheus_port, "/api/v1/rules")
    groups = [g.get("name") for g in ((body or {}).get("data") or {}).get("groups", [])]
    checks.check("Prometheus loaded the recording and alert rules", "mnist-web-alerts" in groups, "groups %s" % groups)


def phase_promote(dep, checks, figures):
    """A model trained by `app train` reaches every replica; then a promote
    of the first model through one replica's admin API is served by all
    three within PROMOTE_WITHIN."""
    cids = dep.containers("web")
    first = figures.get("model version")
    t0 = time.monotonic()
    r = dep.compose("run", "--rm", "-T", "web", "train", "--epochs", "1", "--limit", "3000", check=False, timeout=600)
    trained_at = time.monotonic()
    figures["promote: app train, 1 epoch on 3,000 images (s)"] = round(trained_at - t0, 1)
    if not checks.check("app train saves a second model into the database", r.returncode == 0,
                        "exit %d: %s" % (r.returncode, (r.stdout or "").strip().splitlines()[-1:])):
        return
    # The newest model is served unless one is pinned: wait for all to move.
    second = None
    while time.monotonic() - trained_at < 30 and second is None:
        vs = set(served_versions(dep, cids).values())
        if len(vs) == 1 and None not in vs and first not in vs:
            second = vs.pop()
        else:
            time.sleep(0.02)
    figures["promote: new model served by all, after app train returned (s)"] = second and round(time.monotonic() - trained_at, 2)
    checks.check("the model app train saved is served by every replica", second is not None,
                 "versions %s" % served_versions(dep, cids))
    # Promote the first model again, through the first replica alone.
    t0 = time.monotonic()
    status, body = http_post(container_ip(cids[0]), 5000, "/models/%s/promote" % first, headers=dep.admin_auth())
    answered = time.monotonic() - t0
    took = wait_all_serve(dep, cids, first, 10)
    total = took is not None and round(answered + took, 3) or None
    figures["promote: POST answered (s)"] = round(answered, 3)
    figures["promote: from the POST until all 3 serve it (s)"] = total
    log("promote %s through %s: %d %s; all serve it %s s after the POST was sent" % (
        first, inspect(cids[0], "{{.Name}}"), status, body, total))
    checks.check("a promote through one replica is served by all %d within %.0f s" % (REPLICAS, PROMOTE_WITHIN),
                 status == 200 and total is not None and total <= PROMOTE_WITHIN,
                 "status %d, all serve it after %s s" % (status, total))


def container_ip_on(cid, network):
    """The container's address on the compose network named network."""
    fmt = '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}'
    for kv in inspect(cid, fmt).split():
        k, _, v = kv.partition("=")
        if k.endswith("_" + network):
            return v
    return None


def key_columns(dep):
    """The columns of table predictions that together name an
    Idempotency-Key's row (the digest of whose key it is and the key, the
    image's place in a batch), in that order; empty when the table has no
    key column."""
    out = dep.psql("select column_name from information_schema.columns where table_schema = current_schema() "
                   "and table_name = 'predictions' and column_name in ('idem_key_hash', 'idem_position')")
    have = set(out.split())
    return [c for c in ("idem_key_hash", "idem_position") if c in have] if "idem_key_hash" in have else []


def phase_spread(dep, checks, figures):
    status, _ = http_get("127.0.0.1", dep.port, "/model")
    checks.check("through nginx, a request without a token is refused", status == 401, "status %d" % status)
    status, _ = http_get("127.0.0.1", dep.port, "/model", headers=dep.auth())
    checks.check("through nginx, the token is forwarded and accepted", status == 200, "status %d" % status)
    load = Load(dep, workers=8, seconds=8, tag="spread")
    load.run()
    st = load.statuses()
    n = len(load.results)
    checks.check("predictions through nginx all answer 200", st.get(200, 0) == n and n > 0, "statuses %s" % st)
    lines = nginx_lines(dep, "spread")
    spread = upstream_spread(lines)
    figures["spread over replicas (answers each)"] = sorted(spread.values(), reverse=True)
    share = min(spread.values()) / max(1, sum(spread.values())) if spread else 0
    checks.check("nginx spreads them over all %d replicas" % REPLICAS, len(spread) == REPLICAS and share >= 0.15,
                 "%s (smallest share %.0f%%)" % (spread, 100 * share))
    ids = load.ids()
    missing = ids - stored_ids(dep, ids)
    checks.check("every 200 has its row", not missing and len(ids) == st.get(200, 0),
                 "%d answers, %d ids, %d without a row" % (st.get(200, 0), len(ids), len(missing)))


def phase_kill(dep, checks, figures):
    victim = dep.containers("web")[0]
    name = inspect(victim, "{{.Name}}")
    victim_addrs = set(inspect(victim, "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}").split())
    restarts = int(inspect(victim, "{{.RestartCount}}"))
    pid = int(inspect(victim, "{{.State.Pid}}"))
    killed = {}

    def kill(t0):
        time.sleep(3)
        killed["at"] = time.monotonic()
        os.kill(pid, signal.SIGKILL)  # a crash: the restart policy applies
        # A process with many threads on a busy machine takes a moment to
        # die, and until its listening socket closes the kernel still
        # accepts connections for it: requests sent meanwhile fail too.
        while os.path.exists("/proc/%d" % pid) and time.monotonic() - killed["at"] < 10:
            time.sleep(0.002)
        killed["dead"] = time.monotonic()

    max_before = int(dep.psql("select coalesce(max(id), 0) from predictions"))
    load = Load(dep, workers=32, seconds=10, tag="kill")
    load.run(during=kill)
    t_kill, t_dead = killed["at"], killed["dead"]
    res = load.results
    st = load.statuses()
    failed = [r for r in res if r[2] != 200]
    # In flight: sent before the process was gone, answered after the kill.
    inflight = [r for r in res if r[0] <= t_dead and r[1] >= t_kill]
    late_failures = [r for r in failed if not (r[0] <= t_dead + 0.01 and r[1] >= t_kill)]
    worst = max(r[1] - r[0] for r in res)
    lines = nginx_lines(dep, "kill")
    nginx_worst = max(request_times(lines) or [0])
    # nginx names the replica behind each failure: it must be the killed one.
    elsewhere = [l for l in lines if not re.search(r'" 200 ', l)
                 and not any(a + ":5000" in l for a in victim_addrs)]
    figures["kill: requests"] = len(res)
    figures["kill: SIGKILL to process gone (s)"] = round(t_dead - t_kill, 3)
    figures["kill: in flight at the kill"] = len(inflight)
    figures["kill: failed"] = len(failed)
    figures["kill: statuses"] = st
    figures["kill: slowest request, client / nginx (s)"] = (round(worst, 3), nginx_worst)
    log("SIGKILL %s (pid %d, gone %.3f s later) under 32 connections: %d requests, %d in flight at the kill, "
        "%d failed %s, slowest %.3f s" % (name, pid, t_dead - t_kill, len(res), len(inflight), len(failed), st, worst))
    checks.check("no request waits more than %.0f s while a replica dies" % MAX_WAIT, worst <= MAX_WAIT and nginx_worst <= MAX_WAIT,
                 "slowest %.3f s at the client, %.3f s in nginx" % (worst, nginx_worst))
    # nginx names every replica it tried: more than one is a resend.
    resent = [l for l in lines if re.search(r"upstream=\S+, ", l)]
    figures["kill: resent by nginx to another replica"] = len(resent)
    checks.check("no request fails while a replica dies (nginx resends what it held)", not failed,
                 "%d failed (%d of them not in flight at the kill): %s" % (len(failed), len(late_failures), failed[:3]))
    checks.check("every failure came from the killed replica", not elsewhere,
                 "%d failed elsewhere: %s" % (len(elsewhere), elsewhere[:3]))
    ids = load.ids()
    missing = ids - stored_ids(dep, ids)
    checks.check("every 200 under the kill has its row", not missing, "%d answers, %d without a row" % (len(ids), len(missing)))
    rows = int(dep.psql("select count(*) from predictions where id > %d" % max_before))
    figures["kill: rows stored / distinct ids answered"] = (rows, len(ids))
    checks.check("rows stored under the kill == distinct ids answered (nothing stored twice)", rows == len(ids),
                 "%d rows, %d distinct ids answered (%d answers)" % (rows, len(ids), st.get(200, 0)))
    cols = key_columns(dep)
    keyed = twice = 0
    if cols:
        keyed = int(dep.psql("select count(*) from predictions where id > %d and idem_key_hash is not null" % max_before))
        twice = int(dep.psql(
            "select count(*) from (select %s from predictions where idem_key_hash is not null group by %s having count(*) > 1) d"
            % (", ".join(cols), ", ".join(cols))))
    figures["kill: rows stored with nginx's or the client's Idempotency-Key"] = keyed
    checks.check("every row stored under the kill carries an Idempotency-Key, and none is stored twice",
                 bool(cols) and keyed == rows and twice == 0,
                 "%d of %d rows keyed, %d keys stored more than once" % (keyed, rows, twice) if cols else
                 "table predictions has no idem_key_hash column")
    # The restart policy brings the replica back; it loads the saved model.
    back = None
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        if int(inspect(victim, "{{.RestartCount}}")) > restarts and http_get(container_ip(victim), 5000, "/readyz")[0] == 200:
            back = time.monotonic() - t_kill
            break
        time.sleep(0.25)
    figures["kill: replica serving again after (s)"] = back and round(back, 1)
    checks.check("the killed replica restarts and serves again", back is not None, "after %s s" % (back and round(back, 1)))


def phase_db_restart(dep, checks, figures):
    cids = dep.containers("web")
    before = {c: (inspect(c, "{{.State.StartedAt}}"), inspect(c, "{{.RestartCount}}")) for c in cids}
    marks = {}

    def restart_db(t0):
        time.sleep(3)
        marks["start"] = time.monotonic()
        dep.compose("restart", "db")
        marks["done"] = time.monotonic()

    load = Load(dep, workers=16, seconds=15, tag="dbrestart", after=5)
    load.run(during=restart_db)
    res = load.results
    st = load.statuses()
    after_restart = [r for r in res if r[0] >= marks["done"]]
    first_ok = min((r[1] for r in after_restart if r[2] == 200), default=None)
    end = max((r[1] for r in res), default=0)
    tail = [r for r in res if r[0] >= end - 3]
    figures["db restart: statuses"] = st
    figures["db restart: took (s)"] = round(marks["done"] - marks["start"], 1)
    figures["db restart: first 200 after restart returned (s)"] = first_ok and round(first_ok - marks["done"], 2)
    log("db restart under 16 connections: %s; restart took %.1f s" % (st, marks["done"] - marks["start"]))
    checks.check("requests during the database restart get 503", st.get(503, 0) > 0, "statuses %s" % st)
    checks.check("no answer but 200 or 503 while the database restarts", set(st) <= {200, 503}, "statuses %s" % st)
    checks.check("predictions recover after the restart", bool(tail) and all(r[2] == 200 for r in tail) and first_ok is not None,
                 "last 3 s: %d requests, %d not 200" % (len(tail), sum(r[2] != 200 for r in tail)))
    after = {c: (inspect(c, "{{.State.StartedAt}}"), inspect(c, "{{.RestartCount}}")) for c in cids}
    checks.check("no web replica restarted", after == before)
    ids = load.ids()
    missing = ids - stored_ids(dep, ids)
    checks.check("every 200 around the database restart has its row", not missing,
                 "%d answers, %d without a row" % (len(ids), len(missing)))


def phase_bad_database(dep, checks):
    user, db = dep.env["POSTGRES_USER"], dep.env["POSTGRES_DB"]
    cases = [
        ("wrong password", "postgres://%s:not-the-password@db:5432/%s?sslmode=disable" % (user, db), "wrong password"),
        ("missing database", "postgres://%s:%s@db:5432/nosuchdb?sslmode=disable" % (user, dep.env["POSTGRES_PASSWORD"]), "missing database"),
    ]
    for name, url, want in cases:
        t0 = time.monotonic()
        r = dep.compose("run", "--rm", "--no-deps", "-e", "DATABASE_URL=" + url, "web", "serve", check=False, timeout=120)
        took = time.monotonic() - t0
        out = r.stdout or ""
        said = [l for l in out.splitlines() if want in l]
        checks.check("web refuses a %s and says so" % name, r.returncode != 0 and bool(said) and "not-the-password" not in out,
                     "exit %d after %.1f s: %s" % (r.returncode, took, (said or out.splitlines()[-1:] or [""])[0][:300]))


def phase_down_up(dep, checks, figures):
    rows = int(dep.psql("select count(*) from predictions"))
    version = figures.get("model version")
    dep.compose("down")
    t0 = time.monotonic()
    dep.compose("up", "-d", "--scale", "web=%d" % REPLICAS, "db", "web", "nginx", "prometheus")
    up_s = time.monotonic() - t0
    healthy, ready, versions = wait_ready(dep, 300)
    figures["restart after down, up to all replicas healthy (s)"] = healthy and round(healthy + up_s, 1)
    if not checks.check("after down and up all replicas are ready again", ready is not None):
        return
    after = int(dep.psql("select count(*) from predictions"))
    checks.check("down then up keeps the rows", after == rows, "%d rows before, %d after" % (rows, after))
    trained = [c for c in dep.containers("web") if "no model yet" in docker("logs", c)]
    checks.check("down then up keeps the model", set(versions.values()) == {version} and not trained,
                 "versions %s, %d replicas trained" % (sorted(map(str, set(versions.values()))), len(trained)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project", default="mnistcomposetest", help="compose project name")
    ap.add_argument("--port", type=int, default=18280, help="nginx's port on 127.0.0.1")
    ap.add_argument("--keep", action="store_true", help="leave the deployment running at the end")
    args = ap.parse_args()

    dep = Deployment(args.project, args.port)
    checks = Checks()
    figures = {}
    t_all = time.monotonic()
    try:
        dep.compose("down", "-v", "--remove-orphans", check=False)
        log("building the image with docker-compose")
        t0 = time.monotonic()
        r = dep.compose("build", "web", check=False)
        figures["image build (s)"] = round(time.monotonic() - t0, 1)
        if checks.check("docker-compose build web", r.returncode == 0, "%.0f s" % figures["image build (s)"]):
            dep.make_tokens()
            if phase_start(dep, checks, figures):
                phase_prometheus(dep, checks, figures)
                phase_spread(dep, checks, figures)
                phase_promote(dep, checks, figures)
                phase_kill(dep, checks, figures)
                phase_db_restart(dep, checks, figures)
                phase_bad_database(dep, checks)
                phase_down_up(dep, checks, figures)
        else:
            print(r.stdout[-4000:])
    except Exception as e:  # a broken step fails the test, with what broke
        checks.check("the test ran to its end", False, repr(e)[:2000])
    finally:
        if checks.failed:
            for s in ("web", "nginx", "db"):
                out = dep.compose("logs", "--no-color", "--tail", "25", s, check=False).stdout
                print("--- last log lines of %s ---\n%s" % (s, out))
        if not args.keep:
            dep.compose("down", "-v", "--remove-orphans", check=False)
            if os.path.exists(dep.token_file):
                os.remove(dep.token_file)
    figures["compose test (s)"] = round(time.monotonic() - t_all, 1)
    print("figures:")
    for k, v in figures.items():
        print("  %s: %s" % (k, v))
    if checks.failed:
        print("failed: " + "; ".join(checks.failed))
    print("%d passed, %d failed" % (checks.passed, len(checks.failed)))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
