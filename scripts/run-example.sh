#!/usr/bin/env bash
# The main job on a fresh machine: install the packages, build, compile an
# example model spec into a training binary and train it briefly on the real
# Fashion-MNIST data (Debian's dataset-fashion-mnist).
#   bash scripts/run-example.sh [SPEC] [RULE] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
SPEC=${1:-examples/fmnist.onnxtxt}
RULE=${2:-clapp++}
STEPS=${3:-200}
BUILD_DIR=${BUILD_DIR:-build}
bash scripts/install-deps.sh
bash scripts/build.sh
NAME="$BUILD_DIR/$(basename "${SPEC%.*}")-$RULE-train"
"$BUILD_DIR/bin/locusc" "$SPEC" --rule="$RULE" --memory-report
"$BUILD_DIR/bin/locusc" "$SPEC" --rule="$RULE" -o "$NAME"
echo "run-example: built $NAME; training $STEPS steps"
"$NAME" --data fashion-mnist:/usr/share/datasets/fashion-mnist --max-steps "$STEPS" \
  --probe-epochs 10 --probe-train 10000 --probe-test 2000 \
  --metrics "$NAME.metrics.jsonl" --save "$NAME.safetensors"
echo "run-example: metrics in $NAME.metrics.jsonl, weights in $NAME.safetensors"
