#!/bin/sh
# The stand-in postgres image's entrypoint: as the official image's does, it
# initialises an empty $PGDATA with superuser $POSTGRES_USER (default
# postgres) and password $POSTGRES_PASSWORD, creates database $POSTGRES_DB
# (default the user's name), allows password logins from the network, then
# runs the server as user postgres. The cluster is UTF-8 (locale C.UTF-8).
set -eu
if [ "${1:-postgres}" != postgres ]; then
	exec "$@"
fi
[ $# -gt 0 ] && shift
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${PGDATA:=/var/lib/postgresql/data}"

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA" /run/postgresql
	chown postgres:postgres "$PGDATA" /run/postgresql
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "${POSTGRES_PASSWORD:-}" ]; then
		echo "docker-entrypoint: POSTGRES_PASSWORD is not set; the database would have no password" >&2
		exit 1
	fi
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
		--encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
	rm -f "$pwfile"
	echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	if [ "$POSTGRES_DB" != postgres ]; then
		# Double quotes in the name are doubled, as SQL quotes identifiers.
		db=$(printf '%s' "$POSTGRES_DB" | sed 's/"/""/g')
		echo "CREATE DATABASE \"$db\";" | postgres --single -j -D "$PGDATA" postgres >/dev/null
	fi
	echo "docker-entrypoint: initialised $PGDATA (UTF-8) with user $POSTGRES_USER and database $POSTGRES_DB" >&2
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
