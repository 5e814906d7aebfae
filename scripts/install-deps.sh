#!/usr/bin/env bash
# Installs the Debian 12 packages locus builds and tests with (LLVM/MLIR 22
# come from Debian's security suite). Runs apt-get only when something is
# missing, and `apt-get update` once before installing.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ git python3
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libfmt-dev libgtest-dev
  libonnx-dev libprotobuf-dev python3-onnx python3-numpy
  libopenblas-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev dataset-fashion-mnist
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q "${missing[@]}"
