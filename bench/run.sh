#!/usr/bin/env bash
# Times the PyTorch reference (bench/reference_clapp.py) and locus's training binary
# in the same run, on the same machine, and prints steps/s and peak RSS with ratios.
#
#   bash bench/run.sh [--nets fmnist,vgg6-cifar] [--steps-fmnist 30] [--steps-vgg6 20]
#                     [--warmup 2] [--threads 2] [--repeats 1] [--wait-idle SECONDS]
#                     [--locus-args='--heldout 0 --probe-epochs 0'] [--no-build | --rebuild]
#                     [--isa avx2]
#
# (a) the Fashion-MNIST net, batch 32; (b) VGG-6 at CIFAR-10 shape, batch 16; CLAPP++.
# Method (bench/README.md): each side runs W and W+S training steps in fresh processes;
# steps/s = S / (wall(W+S) - wall(W)), peak RSS = ru_maxrss of the W+S run, both taken
# from outside the process. Targets: locus >= 3x the steps/s at <= 0.5x the peak RSS.
#
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the benchmark commands only
# (env -u below): set, they force an older, slower OpenBLAS kernel. Tests and CI keep them.
#
# --isa avx2 emulates an AVX2-only CPU on an AVX-512 one, for both sides: locus's kernels
# compiled for Haswell (--mcpu=haswell), its runtime kernels capped at AVX2 (LOCUS_CPU_SIMD),
# OpenBLAS's Haswell kernels; PyTorch with ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2 and
# MKL_ENABLE_INSTRUCTIONS=AVX2. Binaries and results go to bench/out-avx2 (BENCH_OUT).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
LOCUSC="${LOCUSC:-$ROOT/build/bin/locusc}"
BUILD=1
THREADS=2
ISA=""
PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0; shift ;;
    --rebuild) BUILD=2; shift ;;
    --threads) THREADS="$2"; PASS+=("$1" "$2"); shift 2 ;;
    --threads=*) THREADS="${1#*=}"; PASS+=("$1"); shift ;;
    --isa) ISA="$2"; shift 2 ;;
    --isa=*) ISA="${1#*=}"; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) PASS+=("$1"); shift ;;
  esac
done

case "$ISA" in
  "") OUT="${BENCH_OUT:-$HERE/out}" ;;
  avx2) OUT="${BENCH_OUT:-$HERE/out-avx2}" ;;
  *) echo "bench/run.sh: --isa takes avx2, not '$ISA'" >&2; exit 2 ;;
esac
BIN_DIR="${LOCUS_BENCH_BIN_DIR:-$OUT/bin}"

# The PyTorch references: every venv that bench/setup.sh made (or BENCH_VENV alone).
REFS=()
if [ -n "${BENCH_VENV:-}" ]; then
  CANDIDATES=("pytorch=$BENCH_VENV")
else
  CANDIDATES=("pytorch-pypi=$HERE/.venv" "pytorch-debian=$HERE/.venv-debian")
fi
for c in "${CANDIDATES[@]}"; do
  py="${c#*=}/bin/python"
  if [ -x "$py" ] && "$py" -c 'import torch' 2>/dev/null; then REFS+=("${c%%=*}=$py"); fi
done
if [ ${#REFS[@]} = 0 ]; then
  echo "run.sh: no PyTorch reference is installed: run 'bash bench/setup.sh' (or --debian, --both) first" >&2
  exit 1
fi
mkdir -p "$OUT" "$BIN_DIR"

# The benchmark environment: OpenBLAS's kernel overrides removed, nothing else changed.
BENCH_ENV=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
LOCUSC_ISA=()
if [ "$ISA" = avx2 ]; then
  BENCH_ENV=(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=Haswell LOCUS_CPU_SIMD=avx2
             ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2)
  LOCUSC_ISA=(--mcpu=haswell)
  echo "== --isa avx2: an AVX2-only CPU emulated (${BENCH_ENV[*]:1}; locusc ${LOCUSC_ISA[*]})"
fi

cpuinfo() { grep -m1 "^$1[[:space:]]*:" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'; }
echo "== machine: $(nproc) cores, $(cpuinfo 'model name'), family $(cpuinfo 'cpu family') model" \
     "$(cpuinfo 'model'), $(grep -q avx512f /proc/cpuinfo && echo with || echo without) AVX-512;" \
     "CPU 0's SMT siblings as reported: $(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list 2>/dev/null || echo unknown)"
# Whether the two CPUs are two cores, measured (a VM may hide SMT siblings): cpu_probe.c.
if cc -O2 -mavx2 -mfma -pthread "$HERE/cpu_probe.c" -o "$OUT/cpu_probe" 2> "$OUT/cpu_probe.log"; then
  echo "== $("$OUT/cpu_probe")"
else
  echo "== fma probe not built: $(head -n 1 "$OUT/cpu_probe.log")"
fi
echo "== OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-<unset>} in the caller's" \
     "environment; unset for the benchmark commands"
for r in "${REFS[@]}"; do
echo "== ${r%%=*}: BLAS and thread pools as the benchmark command sees them"
"${BENCH_ENV[@]}" OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" \
  "${r#*=}" - <<'PYEOF'
import torch
from threadpoolctl import threadpool_info
torch.mm(torch.ones(64, 64), torch.ones(64, 64))  # load the BLAS before asking
print("   torch", torch.__version__, "| cpu capability", (torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else "n/a"),
      "| mkldnn (oneDNN)", torch.backends.mkldnn.is_available(), "| mkl", torch.backends.mkl.is_available())
import re
cfg = torch.__config__.show()
print("  ", " ".join(m.group(0) for k in ("BLAS_INFO", "LAPACK_INFO", "USE_MKLDNN", "USE_OPENMP")
                     for m in [re.search(r"\b" + k + r"=[^,\s]*", cfg)] if m))
pools = threadpool_info()
for d in pools:
    extra = d.get("architecture") or ""
    layer = d.get("threading_layer") or ""
    print(f"   threadpoolctl: {d['internal_api']} {d.get('version')} {extra} {layer} threads={d['num_threads']}"
          f" ({d['filepath']})")
blas = re.search(r"\bBLAS_INFO=([^,\s]*)", cfg)
blas = blas.group(1) if blas else "?"
if "open" in blas or blas == "generic":  # generic: Debian's, through the libblas.so.3 alternative
    kern = [d.get("architecture") for d in pools if d["internal_api"] == "openblas" and "numpy" not in d["filepath"]]
    print(f"   => torch's GEMMs run in OpenBLAS, kernel {', '.join(map(str, kern)) or '? (not seen by threadpoolctl)'}")
else:
    print(f"   => torch's GEMMs run in {blas} (linked into libtorch_cpu), its convolutions in oneDNN when"
          " mkldnn is True; an OpenBLAS listed above is numpy's own copy, which torch does not call")
PYEOF
done

# locus's side: build the training binaries if they are not there yet.
BUILD_LOG="$OUT/locus-build.log"
: > "$BUILD_LOG"
build_one() {  # spec binary-name [locusc args...]
  local spec="$1" name="$2"; shift 2
  local dst="$BIN_DIR/$name"
  if [ "$BUILD" = 0 ]; then
    [ -x "$dst" ] || echo "$name: not built (--no-build)" >> "$BUILD_LOG"
    return 0
  fi
  # Up to date: there, and not older than locusc nor than the runtime archives
  # it links into every binary (--rebuild forces a build).
  local input stale=0
  for input in "$LOCUSC" "$(dirname "$LOCUSC")"/../runtime/*.a; do
    [ -e "$input" ] && [ "$input" -nt "$dst" ] && stale=1
  done
  if [ "$BUILD" = 1 ] && [ -x "$dst" ] && [ "$stale" = 0 ]; then return 0; fi
  rm -f "$dst" "$dst.not-executable"
  if [ ! -x "$LOCUSC" ]; then echo "$name: $LOCUSC not found (build locus first)" >> "$BUILD_LOG"; return 0; fi
  local cmd=("$LOCUSC" "$ROOT/$spec" --target=cpu "${LOCUSC_ISA[@]+"${LOCUSC_ISA[@]}"}" "$@" -o "$dst") rc=0
  echo "== building $name: ${cmd[*]}"
  "${cmd[@]}" > "$OUT/locus-build.$name.log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    { echo "$name: locusc exited with $rc:"; tail -n 5 "$OUT/locus-build.$name.log"; } >> "$BUILD_LOG"
  elif [ ! -e "$dst" ]; then
    echo "$name: locusc exited 0 but wrote no $dst" >> "$BUILD_LOG"
  elif [ ! -x "$dst" ]; then
    echo "$name: locusc exited 0 but $dst is not an executable ($(file -b "$dst" 2>/dev/null | cut -c1-60))" >> "$BUILD_LOG"
    mv -f "$dst" "$dst.not-executable"
  fi
}
build_one examples/fmnist.onnxtxt fmnist-train
build_one examples/vgg6-cifar10.onnxtxt vgg6-cifar-train --batch-size 16
if [ -s "$BUILD_LOG" ]; then
  echo "== locus build notes:"; sed 's/^/   /' "$BUILD_LOG" | tail -n 20
fi

REF_ARGS=()
for r in "${REFS[@]}"; do REF_ARGS+=(--ref "$r"); done
exec "${BENCH_ENV[@]}" "${REFS[0]#*=}" "$HERE/harness.py" "${REF_ARGS[@]}" --locus-bin-dir "$BIN_DIR" \
  --locus-build-log "$BUILD_LOG" --out "$OUT" "${PASS[@]+"${PASS[@]}"}"
