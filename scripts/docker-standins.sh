#!/usr/bin/env bash
# Makes Docker usable on a machine that reaches no container registry:
# installs Debian's docker.io, docker-compose and debootstrap when missing,
# starts the daemon when it is not running, and builds stand-ins for the
# base images that Dockerfile and docker-compose.yml name, from Debian
# bookworm packages, tagged with the real names so that both files run
# unchanged:
#
#   golang:1.26-bookworm                   Debian minbase + make + this machine's Go
#   gcr.io/distroless/static-debian12:nonroot  passwd/group/CA files only, user 65532
#   postgres:14                            Debian's PostgreSQL 15, entrypoint below
#   nginx:1.27-alpine                      Debian's nginx (1.22)
#   prom/prometheus:v2.42.0                Debian's Prometheus (2.42)
#
# dpage/pgadmin4 has no stand-in: the compose test leaves pgAdmin out.
# A tag that exists already is kept (delete it to rebuild); the .deb files
# are cached in $STANDIN_CACHE between runs.
#
# Usage: scripts/docker-standins.sh       (root; prints what it did)
# Source it to get start_docker without building anything:
#   . scripts/docker-standins.sh --functions-only
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
# Debian's client matches Debian's daemon; another docker client earlier in
# PATH (a newer one without its plugins) is bypassed.
DOCKER=/usr/bin/docker
STANDIN_CACHE=${STANDIN_CACHE:-/var/cache/mnist-standins}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/mnist-dockerd.log}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { echo "standins: $*" >&2; }

# install_packages installs Debian packages, keeping their postinst from
# starting services (this script starts dockerd itself).
install_packages() {
	local made_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		made_policy=1
	fi
	local rc=0
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; } || rc=$?
	if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
	return $rc
}

ensure_tools() {
	local missing=()
	[ -x /usr/sbin/dockerd ] && [ -x "$DOCKER" ] || missing+=(docker.io)
	command -v docker-compose >/dev/null || missing+=(docker-compose)
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing ${missing[*]}"
		install_packages "${missing[@]}"
	fi
}

# STARTED_DOCKERD holds the pid of a daemon this script started, for
# stop_docker; it stays empty when one was running already.
STARTED_DOCKERD=
start_docker() {
	if $DOCKER info >/dev/null 2>&1; then
		return 0
	fi
	say "starting dockerd (log: $DOCKERD_LOG)"
	setsid /usr/sbin/dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
	STARTED_DOCKERD=$!
	for _ in $(seq 60); do
		$DOCKER info >/dev/null 2>&1 && return 0
		sleep 1
	done
	say "dockerd did not answer within 60 s; its log ends:"
	tail -n 20 "$DOCKERD_LOG" >&2
	return 1
}

stop_docker() {
	if [ -n "$STARTED_DOCKERD" ]; then
		# Quietly: the caller's last line of output is its summary.
		kill "$STARTED_DOCKERD" 2>/dev/null || true
		for _ in $(seq 30); do kill -0 "$STARTED_DOCKERD" 2>/dev/null || break; sleep 1; done
		STARTED_DOCKERD=
	fi
}

# debian_mirror prints the bookworm mirror apt is configured with, so that no
# host name is written here.
debian_mirror() {
	local url
	url=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
		/^URIs:/ { uri = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") { print uri; exit } }')
	if [ -z "$url" ]; then
		url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			awk '$1 == "deb" && $0 ~ / bookworm / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }')
	fi
	[ -n "$url" ] || { say "no Debian bookworm mirror in the apt configuration"; return 1; }
	echo "$url"
}

have_image() { $DOCKER image inspect "$1" >/dev/null 2>&1; }

# rootfs DIR PACKAGES... makes a Debian bookworm minbase tree in DIR with the
# packages (comma-separated) added.
rootfs() {
	local dir=$1 include=$2
	mkdir -p "$STANDIN_CACHE/debs"
	say "debootstrap bookworm into $dir (+ $include)"
	debootstrap --variant=minbase --include="$include" --cache-dir="$STANDIN_CACHE/debs" \
		bookworm "$dir" "$(debian_mirror)" >"$dir.log" 2>&1 ||
		{ tail -n 30 "$dir.log" >&2; return 1; }
	# Nothing the images need: package lists, caches, docs.
	rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/usr/share/doc/* \
		"$dir"/usr/share/man/* "$dir"/usr/share/locale/*
}

# import DIR TAG makes image TAG from the tree in DIR.
import_tree() {
	tar --numeric-owner -C "$1" -c . | $DOCKER import - "$2" >/dev/null
}

# build TAG NAME builds scripts/standin/NAME.Dockerfile with the folder as
# context.
build_standin() {
	local tag=$1 name=$2
	shift 2
	$DOCKER build -q -t "$tag" -f "$here/standin/$name.Dockerfile" "$@" "$here/standin" >/dev/null
}

build_golang() {
	local tag=golang:1.26-bookworm
	have_image "$tag" && return 0
	local work
	work=$(mktemp -d)
	rootfs "$work/root" make,ca-certificates
	# The machine's Go, and its CA bundle so that `go mod download` in a build
	# trusts the same certificates as the host.
	cp -a /usr/local/go "$work/root/usr/local/go"
	cp /etc/ssl/certs/ca-certificates.crt "$work/root/etc/ssl/certs/ca-certificates.crt"
	import_tree "$work/root" mnist-standin/golang-root
	rm -rf "$work"
	# The module proxy and checksum database the host uses, so that the build
	# fetches modules the same way.
	build_standin "$tag" golang \
		--build-arg GOPROXY="$(go env GOPROXY)" --build-arg GOSUMDB="$(go env GOSUMDB)"
	say "built $tag ($($DOCKER run --rm "$tag" go version))"
}

build_distroless() {
	local tag=gcr.io/distroless/static-debian12:nonroot
	have_image "$tag" && return 0
	local work
	work=$(mktemp -d)
	# The files distroless/static has that a static binary may need: users,
	# CA certificates, a writable /tmp and nonroot's home.
	mkdir -p "$work/root/etc/ssl/certs" "$work/root/tmp" "$work/root/home/nonroot" "$work/root/root"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$work/root/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$work/root/etc/group"
	cp /etc/ssl/certs/ca-certificates.crt "$work/root/etc/ssl/certs/"
	chmod 1777 "$work/root/tmp"
	chown 65532:65532 "$work/root/home/nonroot"
	import_tree "$work/root" mnist-standin/distroless-root
	rm -rf "$work"
	build_standin "$tag" distroless
	say "built $tag"
}

build_postgres() {
	local tag=postgres:14
	have_image "$tag" && return 0
	local work
	work=$(mktemp -d)
	rootfs "$work/root" postgresql-15
	# The cluster Debian's postinst made; the entrypoint makes its own.
	rm -rf "$work/root/var/lib/postgresql/15" "$work/root/etc/postgresql/15"
	import_tree "$work/root" mnist-standin/postgres-root
	rm -rf "$work"
	build_standin "$tag" postgres
	say "built $tag ($($DOCKER run --rm --entrypoint postgres "$tag" --version))"
}

build_nginx() {
	local tag=nginx:1.27-alpine
	have_image "$tag" && return 0
	local work
	work=$(mktemp -d)
	rootfs "$work/root" nginx
	import_tree "$work/root" mnist-standin/nginx-root
	rm -rf "$work"
	build_standin "$tag" nginx
	say "built $tag ($($DOCKER run --rm "$tag" nginx -v 2>&1))"
}

build_prometheus() {
	local tag=prom/prometheus:v2.42.0
	have_image "$tag" && return 0
	local work
	work=$(mktemp -d)
	rootfs "$work/root" prometheus
	import_tree "$work/root" mnist-standin/prometheus-root
	rm -rf "$work"
	build_standin "$tag" prometheus
	say "built $tag ($($DOCKER run --rm "$tag" --version 2>&1 | head -n 1))"
}

build_all() {
	build_golang
	build_distroless
	build_postgres
	build_nginx
	build_prometheus
	# The intermediate trees are layers of the stand-ins now.
	$DOCKER image rm mnist-standin/golang-root mnist-standin/distroless-root \
		mnist-standin/postgres-root mnist-standin/nginx-root mnist-standin/prometheus-root >/dev/null 2>&1 || true
}

if [ "${1:-}" != --functions-only ]; then
	ensure_tools
	start_docker
	build_all
	say "ready: $($DOCKER image ls --format '{{.Repository}}:{{.Tag}}' | grep -E '^(golang|postgres|nginx|gcr.io|prom/)' | sort | tr '\n' ' ')"
fi
