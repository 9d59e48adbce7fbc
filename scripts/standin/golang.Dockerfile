# Stand-in for golang:1.26-bookworm: Debian bookworm minbase with make and
# the host's Go in /usr/local/go (scripts/docker-standins.sh copies it in).
FROM mnist-standin/golang-root
ARG GOPROXY
ARG GOSUMDB
ENV GOPATH=/go \
    PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    GOTOOLCHAIN=local \
    GOPROXY=${GOPROXY} \
    GOSUMDB=${GOSUMDB}
WORKDIR /go
CMD ["bash"]
