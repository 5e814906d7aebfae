#!/usr/bin/env bash
# The test command: install what is missing, build, run every test with ctest
# (the lit suite check-locus is one ctest test; the GoogleTest unit tests are
# the others). GPU tests report "Skipped" where no CUDA device is present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "${JOBS:-2}"
