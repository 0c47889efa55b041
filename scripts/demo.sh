#!/usr/bin/env bash
# The main job: install dependencies, build weec, and run the Fashion-MNIST
# demo. Two models trained with PyTorch by examples/fashion_mnist/train.py (an
# MLP 784-128-10 and a small CNN with BatchNorm; the ONNX files are committed)
# are compiled to C as float and as int8 (calibrated on 500 training images),
# run on all 10,000 test images, and compared in one table: accuracy,
# latency, arena, weight and code bytes. Then the int8 MLP is compiled with
# integer inputs and outputs and built for a Cortex-M0: flash, RAM, and no
# floating point at all. `weec train --qat` fine-tunes the MLP with
# fake-quantised int8 and 4-bit weights (quantisation-aware training); the
# table gains those rows next to post-training int4. Last, `weec train` trains an 8-32-32-6 tanh
# regressor from scratch on a synthetic sensor task (examples/sensor), which
# goes the same way to an integer-only Cortex-M0 build.
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
echo "== weec train --qat: the MLP fine-tuned with fake-quantised int8, then 4-bit, weights (2 epochs each),"
echo "   written as QDQ models that weec compile --quantize lowers with the scales training learned"
# Post-training int4 first, for comparison. Keep only the quantised row of
# each eval; a QAT model's "float" row is its own fake-quantised graph, so
# its agreement figure would not be against the float model: dropped.
keep_last() {
  tail -1 | /usr/bin/python3 -c "import json,sys; r=json.load(sys.stdin); 'qat' in r['model'] and r.pop('top1_agreement', 0); print(json.dumps(r))" >> $OUT/eval.jsonl
}
$WEEC eval $EX/mlp.onnx --inputs $DATA/t10k-images-idx3-ubyte.gz --labels $DATA/t10k-labels-idx1-ubyte.gz \
  --backend c --quantize int4 --calib $DATA/train-images-idx3-ubyte.gz --json -q | keep_last
for mode in int8 int4; do
  $WEEC train $EX/mlp.onnx --qat $mode --data $DATA/train-images-idx3-ubyte.gz --labels $DATA/train-labels-idx1-ubyte.gz \
    --optimizer adam --lr 1e-5 --lr-schedule cosine --epochs 2 --seed 1 --val-split 0 -o $OUT/mlp_qat_$mode.onnx -q | \
    grep -E "^(QAT|epoch)"
  $WEEC eval $OUT/mlp_qat_$mode.onnx --inputs $DATA/t10k-images-idx3-ubyte.gz --labels $DATA/t10k-labels-idx1-ubyte.gz \
    --backend c --quantize $mode --json -q | keep_last
  tail -1 $OUT/eval.jsonl | /usr/bin/python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"   QAT {r['variant']}: {100*r['accuracy']:.2f}%\")"
done
echo
echo "== the int8 MLP for a Cortex-M0 (int8 in and out, no float anywhere)"
$WEEC compile $EX/mlp.onnx --quantize int8 --calib $DATA/train-images-idx3-ubyte.gz --int-io -o $OUT/mlp_m0 --name mlp_int8
bash scripts/cortex_m0.sh $OUT/mlp_m0 mlp_int8 | tee $OUT/m0.txt
echo
echo "== weec train: an 8-32-32-6 tanh regressor from scratch on a synthetic sensor task (examples/sensor),"
echo "   then int8 with int8 I/O for the Cortex-M0"
/usr/bin/python3 examples/sensor/make_data.py $OUT/sensor
S=$OUT/sensor
$WEEC train --mlp 8,32,32,6 --act tanh --loss mse --optimizer adam --lr 0.003 --epochs 30 --batch-size 32 --seed 1 \
  --data $S/train_x.npy --labels $S/train_y.npy --test-data $S/test_x.npy --test-labels $S/test_y.npy \
  -o $S/sensor.onnx -q | grep -E "^(training|epoch (1|10|20|30)/|test)"
$WEEC eval $S/sensor.onnx --input-shape input=1x8 --inputs $S/test_x.npy --reference $S/test_y.npy --backend c \
  --quantize int8 --calib $S/train_x.npy --json -q > $S/eval.jsonl
$WEEC compile $S/sensor.onnx --input-shape input=1x8 --quantize int8 --calib $S/train_x.npy --int-io -o $S/m0 \
  --name sensor_int8 > /dev/null
bash scripts/cortex_m0.sh $S/m0 sensor_int8 > $OUT/sensor_m0.txt
/usr/bin/python3 -c "
import json, sys
for r in map(json.loads, open(sys.argv[1])):
    print(f\"   {r['variant']}: test MSE {r['mse']:.5f} (targets' variance 0.335), {r['mean_latency_us']:.2f} µs\")" $S/eval.jsonl
cat $OUT/sensor_m0.txt

echo
echo "================================================================================================"
/usr/bin/python3 scripts/demo_table.py $OUT/eval.jsonl --torch $EX/models.json --m0 $OUT/m0.txt
cat $OUT/sensor_m0.txt
