#!/usr/bin/env bash
# The main job on a fresh machine: install the packages, build, and compile an
# example model spec to verified locus IR.
#   bash scripts/run-example.sh [SPEC] [RULE]
# Training binaries (--emit=exe) come with the step lowering; until then this
# stops at the verified IR and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
SPEC=${1:-examples/fmnist.onnxtxt}
RULE=${2:-clapp++}
BUILD_DIR=${BUILD_DIR:-build}
bash scripts/install-deps.sh
bash scripts/build.sh
OUT="$BUILD_DIR/$(basename "${SPEC%.*}").$RULE.mlir"
"$BUILD_DIR/bin/locusc" "$SPEC" --rule="$RULE" --emit=mlir -o "$OUT" \
  --mlir-elide-elementsattrs-if-larger=16
echo "locusc: wrote $OUT"
grep -E "func.func|locus.local_loss" "$OUT" | sed -e 's/^ *//' | cut -c1-160
echo "run-example: training (--emit=exe) is not implemented yet; see README.md, Status."
