#!/usr/bin/env bash
# A/B of two locus builds on one net: both compile the same spec, then their
# training binaries run in alternating rounds (A, B, A, B, ...) on the same
# synthetic data; prints each run's steps/s and peak and the median ratio B/A.
#
#   bash bench/ab.sh --a /work/base/build/bin/locusc --b build/bin/locusc \
#        --spec examples/vgg6-cifar10.onnxtxt --batch-size 16 --steps 10 --rounds 3 [-- ARGS]
#
# ARGS go to both binaries (e.g. --optimizer-state bfloat16). steps/s is the
# binary's own: steps / train_seconds from its metrics' memory record.
# --a-bin / --b-bin take training binaries already built (no --spec needed
# then; the spec, when given, only labels the result).
set -euo pipefail
a="" b="" abin="" bbin="" spec="" batch=32 steps=30 rounds=3 extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --a) a=$2; shift 2 ;;
    --b) b=$2; shift 2 ;;
    --a-bin) abin=$2; shift 2 ;;
    --b-bin) bbin=$2; shift 2 ;;
    --spec) spec=$2; shift 2 ;;
    --batch-size) batch=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "bench/ab.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if { [ -z "$a" ] && [ -z "$abin" ]; } || { [ -z "$b" ] && [ -z "$bbin" ]; } ||
   { [ -z "$spec" ] && { [ -z "$abin" ] || [ -z "$bbin" ]; }; }; then
  echo "bench/ab.sh: --a LOCUSC (or --a-bin BIN), --b LOCUSC (or --b-bin BIN) and --spec SPEC" \
       "(unless both are binaries) are required" >&2
  exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for side in a b; do
  bin=${side}bin
  if [ -n "${!bin}" ]; then
    cp "${!bin}" "$work/$side.train"
  else
    compiler=${!side}
    "$compiler" "$spec" --batch-size="$batch" -o "$work/$side.train"
  fi
done
spec=${spec:-"$abin vs $bbin"}
results="$work/results.txt"
for round in $(seq "$rounds"); do
  for side in a b; do
    metrics="$work/$side-$round.jsonl"
    "$work/$side.train" --data synthetic:4096 --max-steps "$steps" --heldout 0 --probe-epochs 0 \
      --seed 3 --metrics "$metrics" "${extra[@]}" > /dev/null 2>&1
    python3 - "$side" "$round" "$metrics" >> "$results" <<'PY'
import json, sys
side, round_, path = sys.argv[1:]
memory = [r for r in map(json.loads, open(path)) if r.get("type") == "memory"][0]
print(side, round_, memory["steps"] / memory["train_seconds"], memory["measured_peak_bytes"])
PY
  done
done
python3 - "$results" "$spec" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for side, round_, rate, peak in rows:
    print(f"{side} round {round_}: {float(rate):8.3f} steps/s  peak {int(peak) / 2**20:8.1f} MiB")
med = {s: statistics.median(float(r[2]) for r in rows if r[0] == s) for s in "ab"}
print(f"{sys.argv[2]}: median steps/s A {med['a']:.3f}, B {med['b']:.3f}, B/A {med['b'] / med['a']:.3f}")
PY
