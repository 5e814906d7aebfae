#!/usr/bin/env bash
# The GPU checks, in two halves (the device machine has CUDA, cuDNN and
# PyTorch but no MLIR, so nothing is built there):
#
#   bash scripts/gpu-check.sh --pack      here, after scripts/build.sh: copies what the
#                                          checks run into build-gpu/ (stripped, ~15 MiB)
#   bash scripts/gpu-check.sh             on the device (carry build-gpu): the GPU unit
#                                          tests, then the PyTorch reference benchmark on
#                                          the GPU, then one table
#
# Options on the device: --torch-budget S (seconds for the PyTorch benchmark, default
# 300; 0 skips it). Logs and JSON go to $OUT (or /tmp/gpu-check).
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--pack" ]]; then
  set -e
  rm -rf build-gpu && mkdir -p build-gpu/models
  strip -o build-gpu/locus-unit-tests build/bin/locus-unit-tests
  cp build/test/Unit/models/*.so build-gpu/models/
  du -sh build-gpu
  exit 0
fi

torch_budget=300
while [[ $# -gt 0 ]]; do
  case "$1" in
    --torch-budget) torch_budget="$2"; shift 2 ;;
    *) echo "gpu-check: unknown option $1" >&2; exit 2 ;;
  esac
done
out="${OUT:-/tmp/gpu-check}"
mkdir -p "$out"
if [[ ! -x build-gpu/locus-unit-tests ]]; then
  echo "gpu-check: build-gpu/ is missing: run 'bash scripts/gpu-check.sh --pack' where locus is built and carry build-gpu" >&2
  exit 2
fi

gpu="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
echo "== device: $gpu"

echo "== GPU unit tests (generated kernels on the GPU against the CPU)"
LOCUS_TEST_MODEL_DIR="$PWD/build-gpu/models" build-gpu/locus-unit-tests \
  --gtest_filter='CudaKernels.*:Device*:CudaError*:SelfTest*' 2>&1 | tee "$out/unit-tests.log"
unit_rc=${PIPESTATUS[0]}
unit_passed=$(grep -c '^\[       OK \]' "$out/unit-tests.log")
unit_failed=$(grep -c '^\[  FAILED  \] [A-Za-z]' "$out/unit-tests.log" | head -1)
unit_skipped=$(grep -c '^\[  SKIPPED \] [A-Za-z].*([0-9]* ms)' "$out/unit-tests.log")

torch_line="skipped (--torch-budget 0)"
if [[ "$torch_budget" != 0 ]]; then
  echo "== PyTorch reference on the GPU (bench/gpu/reference_cuda.py, budget ${torch_budget} s)"
  PYTHONUNBUFFERED=1 python3 bench/gpu/reference_cuda.py --budget-s "$torch_budget" \
    --json-out "$out/torch-reference.json" 2>&1 | tee "$out/torch-reference.log"
  torch_rc=${PIPESTATUS[0]}
  torch_line="exit $torch_rc, $(grep -c '"status": "ok"' "$out/torch-reference.log") configs ok (table above, JSON in torch-reference.json)"
fi

echo
echo "== locus GPU check on: $gpu"
printf '| %-52s | %s |\n' "check" "result"
printf '| %-52s | %s |\n' "GPU unit tests (CudaKernels, device, errors)" \
  "exit $unit_rc: $unit_passed passed, $unit_failed failed, $unit_skipped skipped"
printf '| %-52s | %s |\n' "PyTorch reference, VGG-6 STL-10 shape" "$torch_line"
[[ $unit_rc -eq 0 ]]
