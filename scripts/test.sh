#!/usr/bin/env bash
# Builds everything and runs every test suite (unit, ONNX conformance, end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j 2
