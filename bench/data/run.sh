#!/usr/bin/env bash
# Data throughput: images/s through loading + two SimCLR views, locus (locus-data-bench) against
# PyTorch/torchvision (torch_views.py: Dataset + transforms + DataLoader), 1 and 2 workers, on
# CIFAR-10- and STL-10-shaped files, beside the CPU training step's images/s (compiled VGG-6).
#
#   bash bench/data/run.sh [--steps N] [--out DIR] [--repeats R] [--workers 1,2]
#                          [--sets cifar10,stl10] [--train-steps-cifar 6] [--train-steps-stl 3]
#                          [--components] [--files DIR] [--no-build] [--wait-idle SECONDS]
#
# Makes the files once (bench/data/make_files.py -> bench/out/data-files), compiles
# examples/vgg6-{cifar10,stl10}.onnxtxt into bench/out/bin if missing or older than locusc,
# then measures; results and logs go to --out (default bench/out/data). See bench/README.md,
# "Data throughput (bench/data)". Needs build/bin/{locusc,locus-data-bench} and bench/.venv
# with torch and torchvision (bash bench/setup.sh); BENCH_PYTHON picks another Python.
#
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset, as in bench/run.sh: set, they force an older,
# slower OpenBLAS kernel on the training step.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
case "${1:-}" in -h|--help) sed -n '2,16p' "$0"; exit 0 ;; esac
PY="${BENCH_PYTHON:-$ROOT/bench/.venv/bin/python}"
if ! "$PY" -c 'import torch, torchvision, numpy' 2>/dev/null; then
  echo "bench/data/run.sh: $PY cannot import torch, torchvision and numpy (run: bash bench/setup.sh)" >&2
  exit 2
fi
for b in locusc locus-data-bench; do
  [ -x "$ROOT/build/bin/$b" ] || { echo "bench/data/run.sh: build/bin/$b is missing (build locus first)" >&2; exit 2; }
done
cd "$ROOT"
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" "$HERE/run.py" "$@"
