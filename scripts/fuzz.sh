#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang into build-fuzz/ and runs each one for a
# bounded time (fuzz/README.md). Called by scripts/test.sh with the default.
#
#   bash scripts/fuzz.sh [SECONDS]     SECONDS per target, default 60 (or PGREV_FUZZ_SECONDS)
#
# For each target: first every input of fuzz/regressions/<target>/ is replayed (one that
# crashes fails the run), then the fuzzer runs from a copy of fuzz/corpus/<target>/ (the
# repository is not modified) and stops at the first crash, leak, timeout or invariant
# failure. Crashing inputs are kept in build-fuzz/artifacts/<target>/ to replay by hand.
# Exits 0 when no target failed, 1 otherwise.
#
# Environment: PGREV_BUILD_JOBS (default 2), PGREV_FUZZ_TARGETS (default: all four).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-${PGREV_FUZZ_SECONDS:-60}}
jobs=${PGREV_BUILD_JOBS:-2}
read -r -a targets <<<"${PGREV_FUZZ_TARGETS:-fuzz_message_stream fuzz_startup_packet fuzz_sql_lexer fuzz_rewriter}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
    echo "fuzz.sh: SECONDS must be a positive whole number, not '$seconds'" >&2
    exit 2
fi
for tool in clang clang++; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "fuzz.sh: '$tool' not found; install the dependencies first: sudo bash scripts/install-deps.sh" >&2
        exit 1
    fi
done

flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DPGREV_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$flags"
cmake --build build-fuzz -j "$jobs" --target "${targets[@]}"

# A report stops the target with a non-zero status; leaks count (LeakSanitizer at the end of
# each input run), and so does one input that runs longer than -timeout.
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=()
for t in "${targets[@]}"; do
    binary=build-fuzz/fuzz/$t
    artifacts=build-fuzz/artifacts/$t
    mkdir -p "$artifacts"
    options=(-max_len=2048 -timeout=30 -artifact_prefix="$artifacts/")
    if [[ "$t" == fuzz_rewriter || "$t" == fuzz_sql_lexer ]]; then
        options+=(-dict=fuzz/sql.dict)
    fi

    regressions=(fuzz/regressions/"$t"/*)
    if [[ -e "${regressions[0]}" ]]; then
        echo "fuzz.sh: $t: replaying ${#regressions[@]} regression input(s)"
        if ! "$binary" "${options[@]}" "${regressions[@]}"; then
            echo "fuzz.sh: $t: a regression input fails again (fuzz/regressions/$t/)" >&2
            failed+=("$t (regressions)")
            continue
        fi
    fi

    corpus=$work/$t
    mkdir -p "$corpus"
    cp -R fuzz/corpus/"$t"/. "$corpus"/
    echo "fuzz.sh: $t: fuzzing for ${seconds}s from $(ls "$corpus" | wc -l) seed(s)"
    if ! "$binary" "${options[@]}" -max_total_time="$seconds" -print_final_stats=1 "$corpus"; then
        echo "fuzz.sh: $t failed; the input is in $artifacts/ (replay: $binary $artifacts/<file>)" >&2
        failed+=("$t")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: ${#targets[@]} target(s) ran ${seconds}s each without a failure"
