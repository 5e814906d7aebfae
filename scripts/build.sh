#!/usr/bin/env bash
# Configures and builds locus into ${BUILD_DIR:-build} with Ninja, -j2 (the
# development and CI machines have 2 cores; the heaviest MLIR units need ~1.4 GB).
# LOCUS_SANITIZE=address,undefined configures a sanitizer build (ASan + UBSan +
# LeakSanitizer; scripts/test.sh builds one into build-asan).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -G Ninja -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
    ${LOCUS_SANITIZE:+-DLOCUS_SANITIZE=$LOCUS_SANITIZE}
fi
cmake --build "$BUILD_DIR" -j "$JOBS"
