#!/usr/bin/env bash
# A fuzzing campaign over locus's parsers (test/Fuzz, issue 14): builds the libFuzzer targets
# into build-fuzz if needed (clang-22, ASan + UBSan), runs each target in turn and prints, per
# target, the executions, the edges covered, and the crashes, timeouts (over 1 s), out-of-memory
# inputs (over 2 GiB) and leaks found, with the paths of their inputs.
#
#   scripts/fuzz-campaign.sh [--runs N | --runs TARGET=N,...] [--seconds S] [--targets a,b]
#                            [--jobs J] [--keep-going]
#
#   --runs N            executions per target (default 100000); TARGET=N,... sets some
#                       targets' counts (the others keep the default); repeatable
#   --seconds S         stop each target after S seconds (with --runs: whichever comes first)
#   --targets a,b       only these (default: all; test/Fuzz/CMakeLists.txt lists them)
#   --issue             issue 14's counts: 10M executions of onnx-binary, 5M of every other target
#   --jobs J            build jobs (default 2)
#   --keep-going        after a crash, go on to the next target (the default stops the
#                       campaign: the input is in the table, fix it first)
#   --report            run nothing: print the table from the targets' last logs and the
#                       inputs in their artifact folders (for targets run side by side)
#
# Targets run one at a time, in one process each (no -jobs/-fork): the machine's cores are
# shared. libFuzzer's working corpus is build-fuzz/fuzz/corpus/<target> (the committed seeds
# in test/Fuzz/corpus/<target> and the regression inputs are read, never written); its log is
# build-fuzz/fuzz/logs/<target>.log; crash inputs go to build-fuzz/fuzz/artifacts/<target>/.
# A crash input, once fixed, belongs in test/Fuzz/regressions/<target>/ (ctest replays it).
# Exit status: 0 when no target found anything, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
ALL_TARGETS=(onnx-binary onnx-text annotations safetensors descriptor idx cifar stl10 image)

default_runs=100000
declare -A runs=()
seconds=""
targets=("${ALL_TARGETS[@]}")
jobs=2
keep_going=0
report_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs)
      shift
      if [[ "$1" == *=* ]]; then
        IFS=, read -ra pairs <<< "$1"
        for pair in "${pairs[@]}"; do runs[${pair%%=*}]=${pair#*=}; done
      else
        default_runs=$1
      fi ;;
    --seconds) shift; seconds=$1 ;;
    --targets) shift; IFS=, read -ra targets <<< "$1" ;;
    --issue) default_runs=5000000; runs[onnx-binary]=10000000 ;;
    --jobs) shift; jobs=$1 ;;
    --keep-going) keep_going=1 ;;
    --report) report_only=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz-campaign: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for t in "${targets[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] ||
    { echo "fuzz-campaign: no target '$t' (targets: ${ALL_TARGETS[*]})" >&2; exit 2; }
done

# --- Build ------------------------------------------------------------------------------------
if [ "$report_only" -eq 0 ]; then
if ! command -v clang++-22 >/dev/null ||
   ! ls /usr/lib/llvm-22/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz-campaign: needs clang-22 and libFuzzer: apt-get install -y clang-22 libclang-rt-22-dev" >&2
  exit 2
fi
if [ ! -f "$BUILD/build.ninja" ]; then
  # No -DNDEBUG: locus's assertions (and MLIR's inline ones) are checks the fuzzer can trip.
  CC=clang-22 CXX=clang++-22 cmake -G Ninja -S "$ROOT" -B "$BUILD" -DLOCUS_FUZZ=ON \
    -DLOCUS_ENABLE_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1"
fi
ninja -C "$BUILD" -j "$jobs" "${targets[@]/#/locus-fuzz-}"
fi

# --- Run --------------------------------------------------------------------------------------
OUT=$BUILD/fuzz
mkdir -p "$OUT/logs"
# A 32 MB quarantine and 2-frame allocation stacks: with ASan's defaults (256 MB, 30 frames:
# every distinct allocation stack is kept for good) a spec target's resident memory grew by
# about 250 MB a million executions and would pass the 2 GiB limit before 10 million; with these
# it stays flat. Replay a finding with ASan's defaults for whole allocation stacks.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1:quarantine_size_mb=32:malloc_context_size=2}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
dict_for() {
  case "$1" in
    onnx-binary) echo "$ROOT/test/Fuzz/onnx.dict" ;;
    onnx-text) echo "$ROOT/test/Fuzz/onnxtxt.dict" ;;
    annotations) echo "$ROOT/test/Fuzz/annotations.dict" ;;
    safetensors) echo "$ROOT/test/Fuzz/safetensors.dict" ;;
  esac
}

rows=()
found_any=0
# add_row TARGET ELAPSED STATUS NEW-INPUTS: the table row of a run from its log; sets `found`.
add_row() {
  local t=$1 elapsed=$2 status=$3 new=$4 log=$OUT/logs/$1.log
  local execs rate rss last cov ft units crashes timeouts ooms leaks
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  last=$(grep -E '^#[0-9]+.*cov: [0-9]+' "$log" | tail -1 || true)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || true)
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || true)
  units=$(echo "$last" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*' || true)
  crashes=$(echo "$new" | grep -c '/crash-' || true)
  timeouts=$(echo "$new" | grep -c '/timeout-\|/slow-unit-' || true)
  ooms=$(echo "$new" | grep -c '/oom-' || true)
  leaks=$(echo "$new" | grep -c '/leak-' || true)
  found=$((crashes + timeouts + ooms + leaks))
  if [ "$status" -ne 0 ] && [ "$found" -eq 0 ]; then
    crashes=1 # a death libFuzzer kept no input for (see the log)
    found=1
  fi
  rows+=("$(printf '%-12s %12s %8s %6s %7s %6s %6s %7s %8s %5s %5s %6s' "$t" "${execs:-?}" \
    "${rate:-?}" "${cov:-?}" "${ft:-?}" "${units:-?}" "${rss:-?}" "${elapsed}" "$crashes" \
    "$timeouts" "$ooms" "$leaks")")
}

for t in "${targets[@]}"; do
  if [ "$report_only" -eq 1 ]; then
    log=$OUT/logs/$t.log
    if [ ! -f "$log" ]; then
      echo "fuzz-campaign: $t: no log ($log)" >&2
      found_any=1
      continue
    fi
    # A finished run ends with libFuzzer's final stats; an unfinished one counts as a finding.
    status=0
    grep -q 'stat::number_of_executed_units' "$log" || status=1
    [ "$status" -eq 0 ] || echo "fuzz-campaign: $t: its log has no final stats (still running, or killed)"
    secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | grep -o '[0-9]* second' | grep -o '[0-9]*' || true)
    add_row "$t" "${secs:-?}s" "$status" "$(find "$OUT/artifacts/$t" -type f 2>/dev/null | sort)"
    [ "$found" -eq 0 ] || found_any=1
    continue
  fi
  n=${runs[$t]:-$default_runs}
  corpus=$OUT/corpus/$t
  artifacts=$OUT/artifacts/$t
  log=$OUT/logs/$t.log
  mkdir -p "$corpus" "$artifacts"
  flags=(-runs="$n" -timeout=1 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1
         -artifact_prefix="$artifacts/" -reload=0)
  [ -n "$seconds" ] && flags+=(-max_total_time="$seconds")
  dict=$(dict_for "$t")
  [ -n "$dict" ] && flags+=(-dict="$dict")
  seeds=("$ROOT/test/Fuzz/corpus/$t")
  [ -d "$ROOT/test/Fuzz/regressions/$t" ] && seeds+=("$ROOT/test/Fuzz/regressions/$t")
  before=$(find "$artifacts" -type f | sort)
  echo "fuzz-campaign: $t: ${flags[*]}"
  start=$(date +%s)
  set +e
  "$BUILD/bin/locus-fuzz-$t" "${flags[@]}" "$corpus" "${seeds[@]}" > "$log" 2>&1 &
  pid=$!
  wait $pid
  status=$?
  set -e
  rm -f /dev/shm/locus-fuzz-"$pid"-* "${TMPDIR:-/tmp}"/locus-fuzz-"$pid"-*
  elapsed=$(( $(date +%s) - start ))
  new=$(comm -13 <(echo "$before") <(find "$artifacts" -type f | sort) | sed '/^$/d')
  add_row "$t" "${elapsed}s" "$status" "$new"
  if [ "$found" -ne 0 ]; then
    found_any=1
    echo "fuzz-campaign: $t found $found input(s) (exit status $status); log: $log"
    echo "$new" | sed '/^$/d; s/^/  /'
    grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|locus-fuzz [a-z0-9-]+:' "$log" | sed 's/^/  /' || true
    if [ "$keep_going" -eq 0 ]; then
      echo "fuzz-campaign: stopping (--keep-going runs the other targets)"
      break
    fi
  fi
done

echo
printf '%-12s %12s %8s %6s %7s %6s %6s %7s %8s %5s %5s %6s\n' target executions exec/s cov ft \
  corpus rssMB time crashes hangs ooms leaks
for row in "${rows[@]}"; do echo "$row"; done
echo "(cov: edges of locus's instrumented code covered; ft: libFuzzer's features; logs and inputs under $OUT)"
exit "$found_any"
