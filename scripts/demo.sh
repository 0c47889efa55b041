#!/usr/bin/env bash
# The main job: install dependencies, build weec, and run the Fashion-MNIST
# demo. Two models trained with PyTorch by examples/fashion_mnist/train.py (an
# MLP 784-128-10 and a small CNN with BatchNorm; the ONNX files are committed)
# are compiled to C as float and as int8 (calibrated on 500 training images),
# run on all 10,000 test images, and compared in one table: accuracy,
# latency, arena, weight and code bytes. Then the int8 MLP is compiled with
# integer inputs and outputs and built for a Cortex-M0: flash, RAM, and no
# floating point at all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build --target weec

WEEC=./build/tools/weec/weec
EX=examples/fashion_mnist
DATA=/usr/share/datasets/fashion-mnist
OUT=out/demo
mkdir -p $OUT
rm -f $OUT/eval.jsonl

echo "== weec show: the CNN after -O2 (BatchNorm and input normalisation folded, ops fused)"
$WEEC show $EX/cnn.onnx --passes infer-shapes,fold-constants,simplify-inference,eliminate-dead-code,fuse | grep -v " = const" || true
echo
echo "== the same CNN quantised to int8: QDQ patterns lowered to integer ops"
$WEEC compile $EX/cnn.onnx --quantize int8 --calib $DATA/train-images-idx3-ubyte.gz -o $OUT/cnn_int8 --name cnn_int8 \
  --print-after lower-qdq 2>&1 | grep -E "^  %.*= (Q[A-Z][a-z]*|MaxPool|Flatten|QuantizeLinear)\(|^  %logits:" | \
  sed -E 's/ \{.*//' | cut -c1-150
echo
for model in mlp cnn; do
  echo "== weec eval $model: float and int8 C on the 10,000 test images"
  $WEEC eval $EX/$model.onnx --inputs $DATA/t10k-images-idx3-ubyte.gz --labels $DATA/t10k-labels-idx1-ubyte.gz \
    --backend c --quantize int8 --calib $DATA/train-images-idx3-ubyte.gz --json -q >> $OUT/eval.jsonl
  tail -2 $OUT/eval.jsonl | /usr/bin/python3 -c "import json,sys; [print(f\"   {r['variant']}: {100*r['accuracy']:.2f}%\") for r in map(json.loads, sys.stdin)]"
done
echo
echo "== the int8 MLP for a Cortex-M0 (int8 in and out, no float anywhere)"
$WEEC compile $EX/mlp.onnx --quantize int8 --calib $DATA/train-images-idx3-ubyte.gz --int-io -o $OUT/mlp_m0 --name mlp_int8
bash scripts/cortex_m0.sh $OUT/mlp_m0 mlp_int8 | tee $OUT/m0.txt
echo
echo "================================================================================================"
/usr/bin/python3 scripts/demo_table.py $OUT/eval.jsonl --torch $EX/models.json --m0 $OUT/m0.txt
