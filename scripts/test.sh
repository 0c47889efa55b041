#!/usr/bin/env bash
# Builds everything and runs every test suite (unit, ONNX conformance, end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# ONNX Runtime from npm for the comparison tests (they skip if it can't be had).
if [ ! -d bench/node_modules/onnxruntime-node ]; then
  (cd bench && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --silent) ||
    echo "test.sh: npm could not install onnxruntime-node; the ONNX Runtime comparisons will be skipped"
fi
# The ASan+UBSan build and the fuzz targets first (scripts/sanitize.sh, about
# 30 min on 2 cores), so that the output still ends with the normal build's
# ctest summary. SANITIZE=0 skips that stage.
if [ "${SANITIZE:-1}" != 0 ]; then bash scripts/sanitize.sh; fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j 2
