# Each target is a line or two; README.md says what they are for.
# bash with pipefail so that `go test | tee` fails when go test fails.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Extra flags for ./app serve and ./app train, e.g. make run SERVE_FLAGS=--addr=127.0.0.1:5000
SERVE_FLAGS ?=
TRAIN_FLAGS ?=
# Rounds of make bench-onnx.
ROUNDS ?= 5

.PHONY: data build run train serve test bench bench-onnx lint docker compose-test load proto

# The four MNIST .gz files in data/mnist, fetched once and checked by MD5.
data:
	scripts/fetch-mnist.sh

build:
	CGO_ENABLED=0 go build -ldflags "$(LDFLAGS)" -o app .

# serve trains a model itself on first boot when saved_models/ has none.
run: data build
	./app serve $(SERVE_FLAGS)

train: data build
	./app train $(TRAIN_FLAGS)

serve: build
	./app serve $(SERVE_FLAGS)

# The purego pass runs the kernel and model tests on the portable Go
# kernels, as a CPU without AVX2 or another architecture would.
# The race pass runs only the concurrency tests (the whole suite under -race
# would take far longer on two cores), first, so that the last output is the
# whole suite's summary, where every package ran tests.
test: data
	go vet ./...
	go test -race -count=1 -timeout 10m -run 'Concurrent' ./model/ ./serve/ ./store/
	go test -count=1 -timeout 5m -tags purego ./internal/kernels/ ./model/
	go test -count=1 -timeout 12m ./...

bench: data
	mkdir -p bench-out
	go test -run '^$$' -bench . -benchmem -count 5 ./model/ | tee bench-out/model-$$(date +%Y%m%d-%H%M%S).txt

# The app's inference beside ONNX Runtime's on one thread (scripts/bench-onnx.sh).
bench-onnx: data build
	scripts/bench-onnx.sh $(ROUNDS)

# staticcheck at a fixed version, built outside this module so its own
# requirements do not move ours; GOARCH=arm64 vet keeps the files for
# other CPUs (kernel_other.go and the like) compiling.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	@files=$$(gofmt -l .); if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi
	go vet ./...
	GOARCH=arm64 go vet ./...
	go run $(STATICCHECK) ./...

# The gRPC code of proto/inference, from its .proto: protoc from Debian's
# protobuf-compiler (apt-get install protobuf-compiler), the generators at
# the versions pinned here, installed into .bin through the module proxy.
PROTOC_GEN_GO := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
proto:
	GOBIN=$(CURDIR)/.bin go install $(PROTOC_GEN_GO)
	GOBIN=$(CURDIR)/.bin go install $(PROTOC_GEN_GO_GRPC)
	PATH=$(CURDIR)/.bin:$$PATH protoc --proto_path=. --go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative proto/inference/grpc_service.proto

docker:
	docker build -t mnist-app .

# The deployment for real (root; needs Debian's docker.io, which it installs):
# stand-in base images, db + 3 web replicas + nginx, failover. Ends with
# "N passed, N failed". README.md's compose section has its figures.
compose-test:
	scripts/compose-test.sh

# Load test of POST /predict on PostgreSQL with wrk (apt-get install wrk);
# settings as environment variables, see scripts/load.sh (DB=sqlite, CONNS, SECS, RUNS).
load: data build
	APP=./app scripts/load.sh
