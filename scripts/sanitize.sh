#!/usr/bin/env bash
# Builds pgrev, the unit tests and the two integration suites with AddressSanitizer and
# UndefinedBehaviorSanitizer into build-asan/ (cmake -DPGREV_SANITIZE=ON) and runs them:
# the ctest entries unit, integration and audit_integration. Called by scripts/test.sh.
#
#   bash scripts/sanitize.sh
#
# Any report fails: the test binaries abort on their own errors, and the harness reads the
# log of every pgrev it started (tests/integration/sanitizer_reports.h). The other ctest
# entries (TLS, drivers, PostgreSQL 17/18, protocol versions) run on the normal build only:
# they exercise the same code with other peers, and would double the time (README, Testing).
#
# Environment: PGREV_BUILD_JOBS (default 2).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
jobs=${PGREV_BUILD_JOBS:-2}

# Debug: -O0 compiles fastest and keeps every frame in the reports; the tests wait on
# PostgreSQL far more than on pgrev's code. Warnings are the normal build's business.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPGREV_SANITIZE=ON -DPGREV_WERROR=OFF
cmake --build build-asan -j "$jobs" \
    --target pgrev pgrev_unit_tests pgrev_integration_tests pgrev_audit_tests

# halt_on_error: the first error stops the process (pgrev too), so no report is lost in a
# long log; detect_leaks: LeakSanitizer runs when each process exits (pgrev on SIGTERM).
# Suppressions: third-party frames only, each with its reason (scripts/lsan.supp; none is
# needed today).
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1
export LSAN_OPTIONS=suppressions=$root/scripts/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# ASan's redzones and -O0 make frames several times bigger: the depth bounds of audit/ are
# sized for an 8 MB stack with the normal build's frames (whose tests check them there).
# Threads take the same default (glibc), pgrev's included. 64 MB, or the hard limit if lower.
hard_stack=$(ulimit -H -s)
if [[ "$hard_stack" == unlimited || "$hard_stack" -ge 65536 ]]; then
    ulimit -s 65536
else
    ulimit -s "$hard_stack"
fi

exec ctest --test-dir build-asan --output-on-failure -R '^(unit|integration|audit_integration)$'
