#!/usr/bin/env bash
# Configures and builds locus into ${BUILD_DIR:-build} with Ninja, -j2 (the
# development and CI machines have 2 cores; the heaviest MLIR units need ~1.4 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -G Ninja -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$BUILD_DIR" -j "$JOBS"
