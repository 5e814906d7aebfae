#!/usr/bin/env bash
# The test command: install what is missing, build, run every test with ctest
# (the lit suite check-locus is one ctest test; the GoogleTest unit tests are
# the others). GPU tests report "Skipped" where no CUDA device is present.
# Then the same suite again on a sanitizer build (ASan + UBSan + LeakSanitizer,
# build-asan; LOCUS_TEST_SANITIZERS=0 skips it).
# The last line counts the tests run by both builds:
# "ctest: N run: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
ASAN_BUILD_DIR=${ASAN_BUILD_DIR:-build-asan}
SANITIZERS=${LOCUS_TEST_SANITIZERS:-1}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

total=0 passed=0 failed=0 skipped=0 status=0
# run_ctest DIR LABEL: runs ctest in DIR and adds its counts to the totals.
run_ctest() {
  local dir=$1 label=$2 rc=0
  ctest --test-dir "$dir" --output-on-failure -j "${JOBS:-2}" 2>&1 | tee "$log" ||
    rc=${PIPESTATUS[0]}
  local summary
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1 || true)
  if [ -z "$summary" ]; then
    # ctest stopped before its summary (no tests found, a crash): count a
    # failure in the closing line CI reads.
    echo "$label: ctest printed no summary (exit status $rc)"
    failed=$((failed + 1)) total=$((total + 1))
    status=1
    return
  fi
  local f t s
  f=$(echo "$summary" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+)/\1/')
  t=$(echo "$summary" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+)/\2/')
  s=$(grep -c '\*\*\*Skipped' "$log" || true)
  echo "$label: $t run: $((t - f - s)) passed, $f failed, $s skipped"
  total=$((total + t)) passed=$((passed + t - f - s)) failed=$((failed + f)) skipped=$((skipped + s))
  [ "$rc" -eq 0 ] || status=$rc
}

LOCUS_SANITIZE= BUILD_DIR="$BUILD_DIR" bash scripts/build.sh
run_ctest "$BUILD_DIR" "ctest ($BUILD_DIR)"

if [ "$SANITIZERS" != 0 ]; then
  # The sanitizer build: the compiler, the runtime, the tools, the unit tests
  # and every training binary the lit tests link, with
  # -fsanitize=address,undefined (README.md, "Tests under sanitizers").
  LOCUS_SANITIZE=address,undefined BUILD_DIR="$ASAN_BUILD_DIR" bash scripts/build.sh
  # Any UBSan finding aborts (-fno-sanitize-recover); leaks are reported at
  # exit; ASan also checks C string arguments in full and global constructors'
  # order. No suppressions are needed.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:check_initialization_order=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  run_ctest "$ASAN_BUILD_DIR" "ctest ($ASAN_BUILD_DIR, ASan+UBSan)"
fi

echo "ctest: $total run: $passed passed, $failed failed, $skipped skipped"
exit "$status"
