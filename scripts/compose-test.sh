#!/usr/bin/env bash
# make compose-test: the deployment test. Installs Docker from Debian when
# missing, starts the daemon when it is not running (and stops it again at
# the end if it started it), builds the stand-in base images once
# (scripts/docker-standins.sh), then runs scripts/compose_test.py, whose last
# line is "N passed, N failed". Exits non-zero when anything failed.
# Run as root from the repository root; KEEP_DOCKERD=1 leaves a daemon this
# script started running (faster reruns).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
. scripts/docker-standins.sh --functions-only
if [ "${KEEP_DOCKERD:-}" != 1 ]; then
	trap stop_docker EXIT
fi
ensure_tools
start_docker
build_all
say "stand-in base images ready after $(($(date +%s) - t0)) s"
# Each build leaves the image it replaces untagged (about 45 MB): drop
# those, keeping the stand-ins and BuildKit's cache.
$DOCKER image prune -f >/dev/null
python3 scripts/compose_test.py "$@"
