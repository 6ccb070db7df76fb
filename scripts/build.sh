#!/usr/bin/env bash
# Configures and builds pgrev into build/ (binary: build/pgrev).
#
#   bash scripts/build.sh
#
# Environment: PGREV_BUILD_TYPE (default RelWithDebInfo), PGREV_BUILD_JOBS (default 2).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_type=${PGREV_BUILD_TYPE:-RelWithDebInfo}
jobs=${PGREV_BUILD_JOBS:-2}

for tool in cmake c++ pkg-config; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build.sh: '$tool' not found; install the dependencies first: sudo bash scripts/install-deps.sh" >&2
        exit 1
    fi
done

# Warnings are errors here (CI builds with this script); plain cmake leaves them warnings.
cmake -S . -B build -DCMAKE_BUILD_TYPE="$build_type" -DPGREV_WERROR=ON
cmake --build build -j "$jobs"
echo "build.sh: built build/pgrev ($build_type)"
