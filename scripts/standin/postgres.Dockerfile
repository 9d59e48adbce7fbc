# Stand-in for postgres:14: Debian bookworm's PostgreSQL 15 behind an
# entrypoint that does what the official image's does with POSTGRES_USER,
# POSTGRES_PASSWORD and POSTGRES_DB, initialising the cluster in UTF-8.
FROM mnist-standin/postgres-root
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN mkdir -p /var/lib/postgresql/data /run/postgresql \
 && chown postgres:postgres /var/lib/postgresql/data /run/postgresql \
 && chmod 700 /var/lib/postgresql/data
VOLUME /var/lib/postgresql/data
# Fast shutdown, as the official image: SIGINT.
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
