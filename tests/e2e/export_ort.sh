#!/usr/bin/env bash
# End to end: what `weec export` writes loads and runs in ONNX Runtime (npm
# onnxruntime-node, installed by `cd bench && npm ci`), and computes what
# weec computes:
#  - the Fashion-MNIST CNN exported after -O2 (BatchNorm folded, ops fused and
#    inlined back) gives, in ORT, weec's logits within 1e-5 and PyTorch's too;
#  - ONNX backend-suite models whose IR form differs from opset 17's (legacy
#    Upsample/Scatter, per-axis QuantizeLinear/DequantizeLinear, Reduce axes,
#    opset-11 If/Loop, opset-9 Scan, pre-13 Softmax) give the suite's
#    expected outputs in ORT.
# Skips (exit 77) when node or onnxruntime-node is not installed.
set -euo pipefail
WEEC=$1; SRC=$2; OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
export NODE_PATH=$SRC/bench/node_modules
if ! command -v node > /dev/null || [ ! -d "$NODE_PATH/onnxruntime-node" ]; then
  echo "SKIP: node or bench/node_modules/onnxruntime-node is missing (cd bench && npm ci)"
  exit 77
fi
ORT="node $SRC/tests/e2e/export_ort.js"
EX=$SRC/examples/fashion_mnist

"$WEEC" export "$EX/model.onnx" --input-shape image=8x1x28x28 -O2 -o "$OUT/fm_O2.onnx" | tee "$OUT/export.txt"
grep -q "wrote $OUT/fm_O2.onnx: .* nodes, .* initializers, .* bytes" "$OUT/export.txt"
"$WEEC" run "$EX/model.onnx" --input image="$EX/input_0.npy" -o "$OUT/weec" --npy > /dev/null
$ORT "$OUT/fm_O2.onnx" "$OUT/ort" "$EX/input_0.npy"
"$WEEC" compare "$OUT/ort/output_0.npy" "$OUT/weec/output_0.npy" --atol 1e-5
"$WEEC" compare "$OUT/ort/output_0.npy" "$EX/expected_output_0.npy" --atol 1e-5
# weec reads the exported model back; ORT agrees with it too. (Not bit for bit
# with the original: folding BatchNorm into the conv weights rounds differently.)
"$WEEC" run "$OUT/fm_O2.onnx" --input image="$EX/input_0.npy" -o "$OUT/back" --npy > /dev/null
"$WEEC" compare "$OUT/back/output_0.npy" "$OUT/weec/output_0.npy" --atol 1e-5
"$WEEC" compare "$OUT/ort/output_0.npy" "$OUT/back/output_0.npy" --atol 1e-5
# A .wir text model exports too.
"$WEEC" show "$EX/model.onnx" -o "$OUT/fm.wir" > /dev/null
"$WEEC" export "$OUT/fm.wir" -o "$OUT/fm_wir.onnx" > /dev/null
$ORT "$OUT/fm_wir.onnx" "$OUT/ort_wir" "$EX/input_0.npy"
"$WEEC" compare "$OUT/ort_wir/output_0.npy" "$OUT/weec/output_0.npy" --atol 1e-5

NODE=/usr/share/libonnx-testdata/data/node
if [ -d "$NODE" ]; then
  n=0
  for t in test_upsample_nearest test_scatter_with_axis test_quantizelinear_axis test_dequantizelinear_axis \
           test_reduce_mean_keepdims_example test_reduce_l2_do_not_keepdims_example \
           test_reduce_log_sum_exp_negative_axes_keepdims_example test_if test_loop11 test_scan9_sum \
           test_softmax_axis_0 test_logsoftmax_axis_1 test_split_variable_parts_2d test_clip_splitbounds \
           test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn test_maxpool_with_argmax_2d_precomputed_pads; do
    d=$NODE/$t/test_data_set_0
    "$WEEC" export "$NODE/$t/model.onnx" -o "$OUT/$t.onnx" > /dev/null
    $ORT "$OUT/$t.onnx" "$OUT/$t" $(ls "$d"/input_*.pb | sort -V) > /dev/null
    for want in "$d"/output_*.pb; do
      k=$(basename "$want" .pb)
      "$WEEC" compare "$OUT/$t/$k.npy" "$want" --rtol 1e-3 --atol 1e-6 > /dev/null ||
        { echo "$t: ONNX Runtime's $k differs from the suite's"; exit 1; }
    done
    n=$((n + 1))
  done
  echo "ONNX Runtime ran $n exported suite models and matched the suite's outputs"
fi
echo "e2e export_ort: OK"
