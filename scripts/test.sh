#!/usr/bin/env bash
# The test command: install what is missing, build, run every test with ctest
# (the lit suite check-locus is one ctest test; the GoogleTest unit tests are
# the others). GPU tests report "Skipped" where no CUDA device is present.
# The last line counts the tests run: "ctest: N run: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "${JOBS:-2}" 2>&1 | tee "$log" ||
  status=${PIPESTATUS[0]}
summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1 || true)
if [ -z "$summary" ]; then
  # ctest stopped before its summary (no tests found, a crash): say so in
  # the closing line CI reads, and fail.
  echo "ctest printed no summary (exit status $status)"
  echo "ctest: 0 run: 0 passed, 1 failed, 0 skipped"
  [ "$status" -ne 0 ] || status=1
  exit "$status"
fi
failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+)/\1/')
total=$(echo "$summary" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+)/\2/')
skipped=$(grep -c '\*\*\*Skipped' "$log" || true)
echo "ctest: $total run: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
exit "$status"
