#!/usr/bin/env bash
# Installs the PyTorch reference(s) for the benchmark. Idempotent: a ready venv is left alone.
#
#   bash bench/setup.sh            # PyTorch from PyPI (pinned)        -> bench/.venv
#   bash bench/setup.sh --debian   # Debian's python3-torch + OpenBLAS -> bench/.venv-debian
#   bash bench/setup.sh --both     # both (bench/run.sh then times locus against each)
#
# PyPI is the PyTorch a user gets from `pip install torch`: convolutions in oneDNN,
# GEMMs in MKL, both linked into libtorch_cpu. Its Linux wheel always depends on the
# CUDA libraries (about 3 GB more to download, 5.4 GB installed, about 2 minutes
# here): `import torch` fails without them (libtorch_cuda.so is linked at import,
# e.g. "libcufile.so.0: cannot open shared object file"), although nothing here
# runs on a GPU. Only the default PyPI index is reachable, so the +cpu wheels of
# PyTorch's own index cannot be used.
#
# --debian: bookworm's torch 1.13.1, CPU only, much smaller at run time (about 240 MB
# resident after import against about 730 MB for PyPI's CUDA build). Its GEMMs go
# through the libblas.so.3 alternative: libopenblas0-pthread must be installed, else
# the reference BLAS does them at about 5 GFLOP/s. Needs root (apt-get).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TORCH_VERSION="${BENCH_TORCH_VERSION:-2.15.0}"
# torchvision for bench/data/torch_views.py (the views pipeline in PyTorch). 0.29.2 is PyPI's
# newest (it requires torch >= 2.14.0) and works with torch 2.15.0.
TORCHVISION_VERSION="${BENCH_TORCHVISION_VERSION:-0.29.2}"
MODES=()
for a in "$@"; do
  case "$a" in
    --pypi) MODES+=(pypi) ;;
    --debian) MODES+=(debian) ;;
    --both) MODES+=(pypi debian) ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
[ ${#MODES[@]} -gt 0 ] || MODES=(pypi)

summary() {  # venv
  "$1/bin/python" - <<'PY'
import re, torch
cfg = torch.__config__.show()
cap = torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else "n/a"
print("  torch", torch.__version__, "from", torch.__file__)
print("  cpu capability:", cap, " ".join(
    m.group(0) for k in ("BLAS_INFO", "USE_MKLDNN", "USE_OPENMP")
    for m in [re.search(r"\b" + k + r"=[^,\s]*", cfg)] if m))
PY
}

setup_one() {  # mode
  local mode="$1" venv want stamp
  if [ "$mode" = pypi ]; then venv="$HERE/.venv"; want="pypi torch==$TORCH_VERSION"
  else venv="$HERE/.venv-debian"; want="debian python3-torch"; fi
  stamp="$venv/.bench-setup"
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
     && "$venv/bin/python" -c 'import torch, threadpoolctl' 2>/dev/null; then
    if [ "$mode" = pypi ] && ! "$venv/bin/python" -c 'import torchvision' 2>/dev/null; then
      "$venv/bin/python" -m pip install --quiet "torchvision==$TORCHVISION_VERSION"
    fi
    echo "$venv is ready ($want)"; summary "$venv"; return 0
  fi
  if [ -d "$venv" ]; then echo "$venv is not a ready '$want': recreating it"; rm -rf "$venv"; fi

  if [ "$mode" = pypi ]; then
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "torch==$TORCH_VERSION" \
      "torchvision==$TORCHVISION_VERSION" numpy threadpoolctl
  else
    local SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-cache show python3-torch >/dev/null 2>&1; then $SUDO apt-get update; fi
    $SUDO apt-get install -y --no-install-recommends \
      python3-torch libopenblas0-pthread python3-threadpoolctl python3-numpy python3-venv
    # libblas.so.3 must resolve to the pthread OpenBLAS (it is the highest-priority
    # alternative once installed; this shows it in case someone pinned another).
    local arch; arch="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
    update-alternatives --query "libblas.so.3-$arch" 2>/dev/null | sed -n 's/^Value: /  libblas.so.3 -> /p' || true
    /usr/bin/python3 -m venv --system-site-packages "$venv"
  fi
  echo "$want" > "$stamp"
  echo "$venv: installed $want"; summary "$venv"
}

for m in "${MODES[@]}"; do setup_one "$m"; done
