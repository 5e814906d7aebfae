#!/usr/bin/env bash
# Installs the Debian 12 packages locus builds and tests with (LLVM/MLIR 22
# come from Debian's security suite). Runs apt-get only when something is
# missing, and `apt-get update` once before installing. Then the Python
# packages the export tests check against and Debian lacks (onnxruntime,
# safetensors) from PyPI into .venv-test, beside Debian's onnx and numpy.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ git python3
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libfmt-dev libgtest-dev
  libonnx-dev libprotobuf-dev python3-onnx python3-numpy
  libopenblas-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev dataset-fashion-mnist
  python3-venv
)
PYPI_PACKAGES=(onnxruntime safetensors)
VENV="$(cd "$(dirname "$0")/.." && pwd)/.venv-test"

install_pypi() {
  if [ -x "$VENV/bin/python" ] &&
     "$VENV/bin/python" -c "import onnxruntime, safetensors, onnx, numpy" 2>/dev/null; then
    echo "install-deps: $VENV has ${PYPI_PACKAGES[*]}"
    return
  fi
  echo "install-deps: installing ${PYPI_PACKAGES[*]} from PyPI into $VENV"
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PYPI_PACKAGES[@]}"
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  install_pypi
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q "${missing[@]}"
install_pypi
