#!/usr/bin/env bash
# A PyTorch export whose submodules are ONNX model-local functions (nested:
# Block calls ScaledGelu), made by scripts/make_function_model.py. weec inlines
# them and must reproduce PyTorch's output within 1e-5.
set -euo pipefail
WEEC=$1; SRC=$2; OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
D=$SRC/tests/data/torch_functions
"$WEEC" run "$D/model.onnx" --input x="$D/input_0.npy" -o "$OUT" --npy
"$WEEC" compare "$OUT/output_0.npy" "$D/expected_output_0.npy" --atol 1e-5
echo "e2e torch_functions: OK"
