#!/usr/bin/env bash
# README command #2: installs the dependencies, builds, checks the style (clang-format,
# clang-tidy: scripts/check-style.sh) and runs every test (doctest unit tests and the
# integration tests, which start their own PostgreSQL 15).
#
#   bash scripts/test.sh
#
# Exits with ctest's status.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
bash scripts/build.sh
bash scripts/check-style.sh
exec ctest --test-dir build --output-on-failure
