# The same steps as CI: `make data`, then a static pure-Go build.
# Built with BuildKit (docker build's builder since Docker 23; set
# DOCKER_BUILDKIT=1 before that): its cache mounts keep Go's module and
# build caches between builds, so a source change recompiles only this
# module's packages, not the dependencies (SQLite, Gorgonia) each time.
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
# go.mod replaces the SQLite driver with this local module (see its doc).
COPY internal/gosqliteshim internal/gosqliteshim
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=docker
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    make data \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/app . \
 && mkdir -p /out/var/lib/app /out/models /out/keys

# distroless static: no shell, no libc, runs as nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/app /app
COPY --from=build /src/data/mnist /data/mnist
# Owned by nonroot: the SQLite file (no DATABASE_URL) is written in the
# working directory, and an empty named volume on /models takes this owner.
COPY --from=build --chown=65532:65532 /out/var/lib/app /var/lib/app
COPY --from=build --chown=65532:65532 /out/models /models
# Empty: the keys file lives in a volume mounted here (compose: keys), never
# in the image; owned by nonroot so `app keys add` can write it.
COPY --from=build --chown=65532:65532 /out/keys /keys
ENV MNIST_DIR=/data/mnist MODEL_DIR=/models
WORKDIR /var/lib/app
USER nonroot:nonroot
VOLUME ["/models"]
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/app", "healthcheck"]
ENTRYPOINT ["/app"]
CMD ["serve"]
