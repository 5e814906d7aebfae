#!/usr/bin/env bash
# The GPU checks, in two halves (the device machine has CUDA, cuDNN and
# PyTorch but no MLIR, so nothing is built there):
#
#   bash scripts/gpu-check.sh --pack      here, after scripts/build.sh: copies what the
#                                          checks run into build-gpu/ (stripped), with the
#                                          benchmark's models compiled for --target=cuda
#   bash scripts/gpu-check.sh             on the device (carry build-gpu): the GPU unit
#                                          tests, locus's training steps on the GPU
#                                          (locus-gpu-step-bench), a Fashion-MNIST run of a
#                                          locusc --target=cuda -o binary (held-out losses,
#                                          probe, checkpoint and resume), the PyTorch
#                                          reference and cuDNN floor of the same net, then
#                                          one table
#
# Options on the device: --torch-budget S (seconds for the PyTorch benchmark, default
# 300; 0 skips it). Logs and JSON go to $OUT (or /tmp/gpu-check).
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--pack" ]]; then
  set -e
  rm -rf build-gpu && mkdir -p build-gpu/models
  strip -o build-gpu/locus-unit-tests build/bin/locus-unit-tests
  strip -o build-gpu/locus-gpu-step-bench build/bin/locus-gpu-step-bench
  strip -o build-gpu/locus-train-model build/bin/locus-train-model
  cp build/test/Unit/models/*.so build-gpu/models/
  # VGG-6 at STL-10 shape, as the benchmark of issue 12 names it.
  mkdir -p build-gpu/bench
  for spec in "clapp++ 32" "clapp++ 128" "clapp++dfb 32" "clapp++both 32" "bp-clapp++ 32"; do
    set -- $spec
    name="vgg6-stl10-$1-b$2"
    build/bin/locusc examples/vgg6-stl10.onnxtxt --target=cuda --rule="$1" --batch-size="$2" \
      --emit=obj -o "build-gpu/bench/$name.o"
    c++ -shared -o "build-gpu/bench/$name.so" "build-gpu/bench/$name.o" -lm
    rm "build-gpu/bench/$name.o"
  done
  # A --target=cuda training binary (locusc -o) for a real run, with Fashion-MNIST where this
  # machine has it (Debian's dataset-fashion-mnist; the device machine reaches no network).
  build/bin/locusc examples/fmnist.onnxtxt --target=cuda -o build-gpu/fmnist-cuda
  strip build-gpu/fmnist-cuda
  extra=fmnist-cuda
  if [[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
    mkdir -p build-gpu/fashion-mnist
    cp /usr/share/datasets/fashion-mnist/*.gz build-gpu/fashion-mnist/
    extra="$extra fashion-mnist"
  fi
  # One compressed file travels (the binaries share most of their bytes).
  (cd build-gpu && tar cf - locus-unit-tests locus-gpu-step-bench locus-train-model models bench $extra |
     xz -T2 -6 > bundle.tar.xz &&
     rm -rf locus-unit-tests locus-gpu-step-bench locus-train-model models bench $extra)
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
if [[ -f build-gpu/bundle.tar.xz && ! -x build-gpu/locus-unit-tests ]]; then
  tar xJf build-gpu/bundle.tar.xz -C build-gpu
fi
if [[ ! -x build-gpu/locus-unit-tests ]]; then
  echo "gpu-check: build-gpu/ is missing: run 'bash scripts/gpu-check.sh --pack' where locus is built and carry build-gpu" >&2
  exit 2
fi

gpu="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
echo "== device: $gpu"

echo "== GPU unit tests (generated kernels, then each rule's training steps, on the GPU against the CPU)"
# One process per engine case: a CUDA error stops its process, not the others.
export LOCUS_TEST_MODEL_DIR="$PWD/build-gpu/models"
build-gpu/locus-unit-tests --gtest_filter='CudaKernels.*:Forms/GpuFormKernels.*:CudaError*:CudaBf16*' 2>&1 | tee "$out/unit-tests.log"
unit_rc=${PIPESTATUS[0]}
for case in $(build-gpu/locus-unit-tests --gtest_list_tests --gtest_filter='Rules/CudaEngine.*' |
              sed -n 's/^  TrainsAsTheCpuBackend\/\([A-Za-z0-9_]*\).*/\1/p'); do
  build-gpu/locus-unit-tests --gtest_filter="Rules/CudaEngine.TrainsAsTheCpuBackend/$case" 2>&1 |
    tee -a "$out/unit-tests.log" | grep -E '^\[ *(OK|FAILED|SKIPPED) *\] Rules|Failure|locus:|error' || true
  [[ ${PIPESTATUS[0]} -eq 0 ]] || unit_rc=1
done
unit_passed=$(grep -c '^\[       OK \]' "$out/unit-tests.log")
unit_failed=$(grep -c '^\[  FAILED  \] [A-Za-z].*([0-9]* ms)' "$out/unit-tests.log")
unit_skipped=$(grep -c '^\[  SKIPPED \] [A-Za-z].*([0-9]* ms)' "$out/unit-tests.log")

echo "== locus training steps on the GPU (locus-gpu-step-bench, AdamW, 20 timed steps, TF32 and BF16)"
: > "$out/locus-steps.jsonl"
for model in build-gpu/bench/*.so; do
  label=$(basename "$model" .so)
  build-gpu/locus-gpu-step-bench "$model" --label "$label" 2>&1 | tee -a "$out/locus-steps.jsonl"
  build-gpu/locus-gpu-step-bench "$model" --label "$label" --precision bf16 2>&1 |
    tee -a "$out/locus-steps.jsonl"
  if [[ "$label" == vgg6-stl10-clapp++-b32 ]]; then
    # Where a step's time goes (every launch and library call timed alone).
    LOCUS_CUDA_PROFILE=1 build-gpu/locus-gpu-step-bench "$model" --label "$label" --steps 5 \
      --warmup 2 > /dev/null 2> "$out/locus-profile.txt" || true
    head -25 "$out/locus-profile.txt"
    build-gpu/locus-gpu-step-bench "$model" --label "$label" --precision fp32 2>&1 | tee -a "$out/locus-steps.jsonl"
    build-gpu/locus-gpu-step-bench "$model" --label "$label" --bf16-moments 2>&1 | tee -a "$out/locus-steps.jsonl"
    build-gpu/locus-gpu-step-bench "$model" --label "$label" --precision bf16 --bf16-moments 2>&1 |
      tee -a "$out/locus-steps.jsonl"
    build-gpu/locus-gpu-step-bench "$model" --label "$label" --cudnn-find 2>&1 | tee -a "$out/locus-steps.jsonl"
    # cuDNN's workspace is a large part of the peak: the fastest algorithms within a limit.
    for mib in 256 64 0; do
      build-gpu/locus-gpu-step-bench "$model" --label "$label" --workspace-mib $mib 2>&1 |
        tee -a "$out/locus-steps.jsonl"
    done
    build-gpu/locus-gpu-step-bench "$model" --label "$label" --workspace-mib 64 --cudnn-find 2>&1 |
      tee -a "$out/locus-steps.jsonl"
  fi
done

echo "== Fashion-MNIST on the GPU: the --target=cuda training binary (CLAPP++, 600 steps)"
fmnist_line="skipped (no Fashion-MNIST packed)"
if [[ -d build-gpu/fashion-mnist ]]; then
  fm=(--data fashion-mnist:build-gpu/fashion-mnist --heldout 256 --probe-epochs 10
      --probe-train 3000 --probe-test 10000)
  build-gpu/fmnist-cuda "${fm[@]}" --max-steps 0 --metrics "$out/fmnist-untrained.jsonl" \
    > "$out/fmnist-untrained.log" 2>&1
  fm_rc=$?
  start=$(date +%s.%N)
  build-gpu/fmnist-cuda "${fm[@]}" --max-steps 600 --log-every 100 --save "$out/fmnist.safetensors" \
    --metrics "$out/fmnist-trained.jsonl" 2>&1 | tee "$out/fmnist-trained.log"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || fm_rc=1
  took=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
  python3 test/Target/Inputs/check_training.py "$out/fmnist-untrained.jsonl" \
    "$out/fmnist-trained.jsonl" 2>&1 | tee "$out/fmnist-check.log"
  check_rc=${PIPESTATUS[0]}
  # The resumed run reads the checkpoint back into the GPU's parameters.
  build-gpu/fmnist-cuda --data fashion-mnist:build-gpu/fashion-mnist --init "$out/fmnist.safetensors" \
    --max-steps 1 --heldout 0 --probe-epochs 0 > "$out/fmnist-resume.log" 2>&1 || fm_rc=1
  fmnist_line="exit $fm_rc, check_training exit $check_rc, ${took} s: $(grep -h 'held-out\|probe test' "$out/fmnist-check.log" | tr '\n' ';')"
  # The same run with bfloat16 convolutions and GEMMs: held-out losses
  # halve too, and the planned peak (now with the bfloat16 copies) is met.
  build-gpu/fmnist-cuda "${fm[@]}" --max-steps 600 --log-every 100 --precision bf16 \
    --metrics "$out/fmnist-bf16.jsonl" > "$out/fmnist-bf16.log" 2>&1 || fm_rc=1
  python3 test/Target/Inputs/check_training.py "$out/fmnist-untrained.jsonl" \
    "$out/fmnist-bf16.jsonl" > "$out/fmnist-bf16-check.log" 2>&1
  bf16_rc=$?
  fmnist_line="$fmnist_line bf16: check_training exit $bf16_rc, $(grep -h 'held-out\|memory' "$out/fmnist-bf16-check.log" | tr '\n' ';')"
  [[ $check_rc -eq 0 && $bf16_rc -eq 0 ]] || unit_rc=1
  [[ $fm_rc -eq 0 ]] || unit_rc=1
fi

echo "== every rule through the whole trainer on the GPU (locus-train-model, each *-cuda test model)"
rules_ok=0 rules_failed=""
for model in build-gpu/models/*-cuda.so; do
  name=$(basename "$model" .so)
  [[ "$name" == fmnist-cuda ]] && continue # trained on Fashion-MNIST above
  log="$out/rule-$name.log"
  if build-gpu/locus-train-model "$model" --data synthetic:256 --max-steps 20 --heldout 32 \
       --probe-epochs 2 --save "$out/rule-$name.st" --metrics "$out/rule-$name.jsonl" > "$log" 2>&1 &&
     build-gpu/locus-train-model "$model" --data synthetic:256 --init "$out/rule-$name.st" \
       --max-steps 1 --heldout 0 --probe-epochs 0 >> "$log" 2>&1 &&
     python3 -c "import json,math,sys; r=[json.loads(l) for l in open(sys.argv[1])]; h=[x for x in r if x['type']=='heldout']; p=[x for x in r if x['type']=='probe']; ok=h and p and all(x['after'] is None or math.isfinite(x['after']) for x in h); sys.exit(0 if ok else 1)" "$out/rule-$name.jsonl"; then
    rules_ok=$((rules_ok + 1))
    echo "$name: ok ($(grep -h 'held-out loss' "$log" | sed 's/ (.*images)//' | tr '\n' ';'))"
  else
    rules_failed="$rules_failed $name"
    echo "$name: FAILED"; tail -5 "$log"
  fi
done
rules_line="$rules_ok models trained, checkpointed, resumed and probed${rules_failed:+; FAILED:$rules_failed}"
[[ -z "$rules_failed" ]] || unit_rc=1

torch_line="skipped (--torch-budget 0)"
if [[ "$torch_budget" != 0 ]]; then
  echo "== PyTorch reference on the GPU (bench/gpu/reference_cuda.py, budget ${torch_budget} s)"
  PYTHONUNBUFFERED=1 python3 bench/gpu/reference_cuda.py --budget-s "$torch_budget" \
    --rules "${TORCH_RULES:-clapp++,dfb,both,bp-clapp++}" --impls "${TORCH_IMPLS:-floor,official,careful,compile}" \
    --precisions tf32,bf16 --batches 32,128 \
    --json-out "$out/torch-reference.json" 2>&1 | tee "$out/torch-reference.log"
  torch_rc=${PIPESTATUS[0]}
  torch_line="exit $torch_rc, $(grep -c '"status": "ok"' "$out/torch-reference.log") configs ok (table above, JSON in torch-reference.json)"
fi

echo
echo "== locus against PyTorch on the same GPU, VGG-6 STL-10 shape (ms per step; peak GiB; each row against the floor and careful PyTorch of its precision: bf16 rows against bf16 autocast, the others against TF32)"
python3 - "$out/locus-steps.jsonl" "$out/torch-reference.json" <<'PY'
import json, sys
locus = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
try:
    torch = json.load(open(sys.argv[2]))
    torch = torch.get("results", torch) if isinstance(torch, dict) else torch
except Exception:
    torch = []
def ref(rule, impl, batch, precision):
    for r in torch:
        if (r.get("rule"), r.get("impl"), r.get("precision"), r.get("batch")) == (rule, impl, precision, batch) \
                and r.get("status") == "ok":
            return r
    return None
rules = {"clapp++": "clapp++", "clapp++dfb": "dfb", "clapp++both": "both", "bp-clapp++": "bp-clapp++"}
print(f"| {'locus model':34} | {'prec':4} | {'moments':7} | {'cuDNN algos':16} | {'ms':>7} | {'peak':>6} | {'floor ms':>8} | {'x floor':>7} | {'careful ms':>10} | {'x careful':>9} | {'peak/careful':>12} |")
for r in locus:
    label = r["label"]
    parts = label.split("-")
    batch = int(parts[-1][1:])
    rule = rules.get("-".join(parts[2:-1]), "?")
    prec = "bf16" if r["precision"] == "bf16" else "tf32"
    floor = ref("conv", "floor", batch, prec)
    care = ref(rule, "careful", batch, prec) or ref(rule, "official", batch, prec)
    f = lambda x, spec: format(x, spec) if x is not None else "-"
    fl = floor["ms_per_step"] if floor else None
    cm = care["ms_per_step"] if care else None
    cp = care["peak_alloc_gib"] if care else None
    print(f"| {label:34} | {r['precision']:4} | {r['moments']:7} | {r.get('algorithms', 'heuristics'):16} | {r['ms_per_step']:7.2f} | {r['measured_peak_gib']:6.2f} | "
          f"{f(fl, '8.2f')} | {f(r['ms_per_step'] / fl if fl else None, '7.2f')} | {f(cm, '10.2f')} | "
          f"{f(r['ms_per_step'] / cm if cm else None, '9.2f')} | {f(r['measured_peak_gib'] / cp if cp else None, '12.2f')} |")
PY

echo
echo "== locus GPU check on: $gpu"
printf '| %-52s | %s |\n' "check" "result"
printf '| %-52s | %s |\n' "GPU unit tests (CudaKernels, device, errors)" \
  "exit $unit_rc: $unit_passed passed, $unit_failed failed, $unit_skipped skipped"
printf '| %-52s | %s |\n' "locus steps on the GPU (locus-gpu-step-bench)" \
  "$(grep -c '"impl": "locus"' "$out/locus-steps.jsonl") runs (table above)"
printf '| %-52s | %s |\n' "Fashion-MNIST, locusc --target=cuda -o binary" "$fmnist_line"
printf '| %-52s | %s |\n' "every rule's model through the trainer (GPU)" "$rules_line"
printf '| %-52s | %s |\n' "PyTorch reference, VGG-6 STL-10 shape" "$torch_line"
[[ $unit_rc -eq 0 ]]
