#!/usr/bin/env bash
# Regenerates docs/conformance.md and docs/conformance.tsv from a fresh run of
# the ONNX backend suite. Pass --update-baseline to also raise the ctest floor
# in tests/conformance/baseline.tsv after an improvement.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build --target weec_conformance
./build/tests/weec_conformance \
  --tolerances tests/conformance/tolerances.tsv \
  --tsv docs/conformance.tsv --markdown docs/conformance.md \
  --baseline tests/conformance/baseline.tsv "$@"
