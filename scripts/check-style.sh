#!/usr/bin/env bash
# The style checks of scripts/test.sh (and so of .ci/run), on pgrev's own sources:
#   - clang-format (.clang-format): every C++ file of the repository, as it would format it;
#   - clang-tidy (.clang-tidy): the checks listed there, on audit/, config/, protocol/ and
#     server/ (the tests and fuzz targets are formatted, not linted).
# Needs a configured build directory (build/compile_commands.json, made by scripts/build.sh).
#
#   bash scripts/check-style.sh            both checks
#   bash scripts/check-style.sh --format   clang-format only (seconds)
#   bash scripts/check-style.sh --fix      reformat the files in place instead of failing
#
# To see one file's tidy findings: clang-tidy -p build server/pump.cpp
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
mode="${1:-all}"

mapfile -t cxx_files < <(git ls-files '*.cpp' '*.h')
if [[ "$mode" == "--fix" ]]; then
    clang-format -i "${cxx_files[@]}"
    exit 0
fi

echo "check-style: clang-format on ${#cxx_files[@]} files"
if ! clang-format --dry-run -Werror "${cxx_files[@]}"; then
    echo "check-style: the files above are not formatted as .clang-format says;" \
         "run: bash scripts/check-style.sh --fix" >&2
    exit 1
fi
[[ "$mode" == "--format" ]] && exit 0

if [[ ! -f build/compile_commands.json ]]; then
    echo "check-style: build/compile_commands.json is missing; run scripts/build.sh first" >&2
    exit 1
fi
mapfile -t sources < <(git ls-files 'audit/*.cpp' 'config/*.cpp' 'protocol/*.cpp' 'server/*.cpp')
echo "check-style: clang-tidy on ${#sources[@]} files"
# Headers of the same four directories are checked where they are included.
run-clang-tidy -quiet -p build -j "$(nproc)" \
    -header-filter="^$root/(audit|config|protocol|server)/" \
    "${sources[@]/#/$root/}" >build/clang-tidy.log 2>&1 || {
    sed 's/\x1b\[[0-9;]*m//g' build/clang-tidy.log | grep -E "(warning|error): " | sort -u >&2 || true
    echo "check-style: clang-tidy found the problems above (full log: build/clang-tidy.log)" >&2
    exit 1
}
echo "check-style: OK"
