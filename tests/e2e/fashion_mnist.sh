#!/usr/bin/env bash
# End to end: `weec run` on the bundled PyTorch-trained model must reproduce
# PyTorch's logits (saved by scripts/make_example_model.py) within 1e-5, from
# both .npy and .pb inputs, and write output_K.pb/.npy.
set -euo pipefail
WEEC=$1; SRC=$2; OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
EX=$SRC/examples/fashion_mnist
"$WEEC" run "$EX/model.onnx" --input image="$EX/input_0.npy" -o "$OUT/npy" --npy
"$WEEC" compare "$OUT/npy/output_0.npy" "$EX/expected_output_0.npy" --atol 1e-5
"$WEEC" compare "$OUT/npy/output_0.pb" "$EX/expected_output_0.pb" --atol 1e-5
"$WEEC" run "$EX/model.onnx" "$EX/input_0.pb" -o "$OUT/pb"
"$WEEC" compare "$OUT/pb/output_0.pb" "$EX/expected_output_0.npy" --atol 1e-5
# The text IR round-trips through a .wir file and still computes the same logits.
"$WEEC" show "$EX/model.onnx" -o "$OUT/model.wir" > /dev/null
"$WEEC" run "$OUT/model.wir" --input image="$EX/input_0.npy" -o "$OUT/wir"
"$WEEC" compare "$OUT/wir/output_0.pb" "$EX/expected_output_0.npy" --atol 1e-5
echo "e2e fashion_mnist: OK"
