#!/usr/bin/env bash
# End to end: `weec quantize` writes a QDQ ONNX model that ONNX Runtime (npm
# onnxruntime-node) loads and runs, and its outputs agree with weec's integer
# model (lowered to QConv/QGemm, run as generated C): the fraction of output
# elements within one output quantisation step is reported. ORT runs the QDQ
# graph twice: as written (float ops between the quantisers, one rounding per
# quantiser, the QDQ semantics: must be >= 99%) and, for information only,
# with its graph optimisations (QDQ fused into ORT's own int8 kernels). The
# latter differs from ORT's own unoptimised run as much as from weec: on
# x86-64 with AVX2, ORT's u8s8/s8s8 kernels accumulate pairs in int16 with
# saturation (vpmaddubsw), which ORT's quantisation guide documents (it
# suggests 7-bit weights, "reduce_range"); weec's weights use the full int8
# range.
# Calibration: 200 training images; comparison: the first 500 test images.
# Skips (exit 77) when node or onnxruntime-node is not installed.
set -euo pipefail
WEEC=$1; SRC=$2; OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
export NODE_PATH=$SRC/bench/node_modules
if ! command -v node > /dev/null || [ ! -d "$NODE_PATH/onnxruntime-node" ]; then
  echo "SKIP: node or bench/node_modules/onnxruntime-node is missing (cd bench && npm ci)"
  exit 77
fi
DATA=/usr/share/datasets/fashion-mnist
CALIB="--calib $DATA/train-images-idx3-ubyte.gz --calib-samples 200"
/usr/bin/python3 - "$DATA/t10k-images-idx3-ubyte.gz" "$OUT/test500.npy" <<'PY'
import gzip, struct, sys
import numpy as np
with gzip.open(sys.argv[1], 'rb') as f:
    magic, n, rows, cols = struct.unpack('>IIII', f.read(16))
    x = np.frombuffer(f.read(500 * rows * cols), dtype=np.uint8)
np.save(sys.argv[2], x.reshape(500, 1, rows, cols).astype(np.float32))
PY
for model in mlp cnn; do
  "$WEEC" quantize "$SRC/examples/fashion_mnist/$model.onnx" $CALIB -o "$OUT/${model}_qdq.onnx"
  for mode in "" "--optimize"; do
    node "$SRC/tests/e2e/export_ort.js" --samples $mode "$OUT/${model}_qdq.onnx" "$OUT/ort.npy" "$OUT/test500.npy"
    "$WEEC" eval "$SRC/examples/fashion_mnist/$model.onnx" --inputs "$OUT/test500.npy" --reference "$OUT/ort.npy" \
      --backend c --quantize int8 $CALIB --json -q > "$OUT/eval.json"
    /usr/bin/python3 - "$OUT/eval.json" "$model" "${mode:-as written}" <<'PY'
import json, sys
int8 = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][1]
frac = int8['within_one_step']
print(f"{sys.argv[2]}: weec int8 C vs ONNX Runtime ({sys.argv[3]}): {100 * frac:.2f}% of outputs within 1 step "
      f"({int8['output_step']:.4g}), max abs error {int8['max_abs_error']:.4g}")
sys.exit(0 if frac >= 0.99 or sys.argv[3] != 'as written' else 1)
PY
  done
done
echo "e2e quantize_ort: OK"
