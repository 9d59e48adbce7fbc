#!/usr/bin/env bash
# Seconds of training until the default recipe reaches 0.99 MNIST test
# accuracy. The one-cycle schedule spans the whole run, so a run of E
# epochs is the default recipe compressed to E epochs; this trains with
# E = 1, 2, 3 ... (seed SEED, default 1) until the test accuracy reaches
# 0.99 and prints each run's training seconds (the epochs' steps, without
# loading, evaluation and saving) and test accuracy. Take timings under
# `flock /tmp/bench.lock`; the accuracies do not depend on load.
#   scripts/time-to-99.sh [APP] [extra train flags...]
set -euo pipefail
app=${1:-./app}
shift || true
seed=${SEED:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for epochs in 1 2 3 4 5 6; do
	"$app" train --epochs "$epochs" --seed "$seed" --models "$work/$epochs" --robustness=false "$@" >"$work/log" 2>&1 ||
		"$app" train --epochs "$epochs" --seed "$seed" --models "$work/$epochs" "$@" >"$work/log" 2>&1 # a build without --robustness
	meta=$(ls "$work/$epochs"/*.json | grep -v pin | head -n 1)
	acc=$(jq -r .test_accuracy "$meta")
	secs=$(jq -r .train_seconds "$meta")
	echo "epochs $epochs: test accuracy $acc after $secs s of training"
	if awk -v a="$acc" 'BEGIN { exit !(a >= 0.99) }'; then
		echo "reached 0.99 in $secs s ($epochs epochs, seed $seed)"
		exit 0
	fi
done
echo "not at 0.99 after 6 epochs"
exit 1
