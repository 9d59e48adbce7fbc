# Stand-in for gcr.io/distroless/static-debian12:nonroot: no shell, no libc,
# only users, CA certificates and /tmp; runs as nonroot (65532).
FROM mnist-standin/distroless-root
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER 65532:65532
WORKDIR /home/nonroot
