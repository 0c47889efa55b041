#!/usr/bin/env bash
# End to end: the int8 Fashion-MNIST MLP compiled with --int-io is integer-only
# C: no float/double token in the source, and built for a Cortex-M0
# (soft-float ABI) it references no floating-point helper. The same model in
# float does reference them, so the check can fail.
set -euo pipefail
WEEC=$1; SRC=$2; OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
if ! command -v arm-none-eabi-gcc > /dev/null; then
  echo "SKIP: arm-none-eabi-gcc is missing (scripts/setup.sh installs gcc-arm-none-eabi)"
  exit 77
fi
DATA=/usr/share/datasets/fashion-mnist
EX=$SRC/examples/fashion_mnist
"$WEEC" compile "$EX/mlp.onnx" --quantize int8 --calib $DATA/train-images-idx3-ubyte.gz --calib-samples 200 \
  --int-io -o "$OUT" --name mlp_int8 > "$OUT/compile.txt"
grep -q "image i8\[1,1,28,28\]q(s=1,zp=-128)" "$OUT/compile.txt" || { cat "$OUT/compile.txt"; exit 1; }
if grep -n -w -E "float|double" "$OUT/mlp_int8.c" "$OUT/mlp_int8.h"; then
  echo "integer-only C mentions a floating-point type"; exit 1
fi
"$SRC/scripts/cortex_m0.sh" "$OUT" mlp_int8
"$WEEC" compile "$EX/mlp.onnx" -o "$OUT" --name mlp_float > /dev/null
if "$SRC/scripts/cortex_m0.sh" "$OUT" mlp_float 2> "$OUT/float.txt"; then
  echo "the float model passed the no-float check"; exit 1
fi
grep -q "__aeabi_f" "$OUT/float.txt"
# Calibration data may also be a directory of one-sample .pb files (the ONNX
# test-data layout): here the 8 example images as one [8,1,28,28] sample.
mkdir -p "$OUT/calib"
cp "$EX/input_0.pb" "$OUT/calib/input_0.pb"
"$WEEC" compile "$EX/model.onnx" --input-shape image=8x1x28x28 --quantize int8 --calib "$OUT/calib" --int-io \
  -o "$OUT" --name dir_calib > "$OUT/dir.txt"
grep -q "image i8\[8,1,28,28\]q(" "$OUT/dir.txt" || { cat "$OUT/dir.txt"; exit 1; }
echo "e2e quantize_m0: OK"
