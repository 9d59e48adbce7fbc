# Stand-in for prom/prometheus:v2.42.0: Debian bookworm's Prometheus (2.42),
# laid out like the official image: /bin/prometheus as the entry point,
# running as nobody with its data in /prometheus.
FROM mnist-standin/prometheus-root
RUN mkdir -p /prometheus && chown 65534:65534 /prometheus
USER 65534:65534
WORKDIR /prometheus
VOLUME ["/prometheus"]
EXPOSE 9090
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
