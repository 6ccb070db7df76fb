#!/usr/bin/env bash
# README command #2: installs the dependencies, builds, checks the style (clang-format,
# clang-tidy: scripts/check-style.sh) and runs every test (doctest unit tests and the
# integration tests, which start their own PostgreSQL 15); then the unit and integration
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer (scripts/sanitize.sh) and
# each libFuzzer target for 60 s (scripts/fuzz.sh).
#
#   bash scripts/test.sh
#
# Every stage runs even when an earlier test stage fails; exits non-zero when any failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
bash scripts/build.sh
bash scripts/check-style.sh
failed=()
# The ctest logs are kept so that a failure's cause can be printed again at the very end.
ctest --test-dir build --output-on-failure 2>&1 | tee build/ctest-output.log ||
    failed+=(ctest)
bash scripts/sanitize.sh 2>&1 | tee build/sanitize-output.log || failed+=(sanitize.sh)
bash scripts/fuzz.sh || failed+=(fuzz.sh)
if [[ ${#failed[@]} -gt 0 ]]; then
    for log in build/ctest-output.log build/sanitize-output.log; do
        grep -E "tests passed|The following tests FAILED|^[[:space:]]+[0-9]+ - " "$log" >&2 || true
        bash scripts/ctest-summary.sh "$log" >&2
    done
    echo "test.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "test.sh: every stage passed"
