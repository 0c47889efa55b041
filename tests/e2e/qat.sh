#!/usr/bin/env bash
# Quantisation-aware training end to end: the demo MLP (trained in PyTorch)
# fine-tuned with `weec train --qat int8` and `--qat int4 --lsq` for one
# epoch on 6,000 Fashion-MNIST images. The QDQ model it writes compiles with
# `weec compile --quantize` and no --calib (its own scales), and the
# integer C's test accuracy is the interpreter's on the same quantised model
# (bit-exact kernels), within 1 pp of the accuracy `weec train` printed for
# the fake-quantised graph (which keeps biases in float). A small CNN from
# --cnn goes the same way. int4 weights are stored packed in the C. Misuse
# gets a clear error.
set -uo pipefail
WEEC=$1; SRC=$2; OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
DATA=/usr/share/datasets/fashion-mnist
TRAIN="--data $DATA/train-images-idx3-ubyte.gz --labels $DATA/train-labels-idx1-ubyte.gz --limit 6000"
TEST="--test-data $DATA/t10k-images-idx3-ubyte.gz --test-labels $DATA/t10k-labels-idx1-ubyte.gz"
EVAL="--inputs $DATA/t10k-images-idx3-ubyte.gz --labels $DATA/t10k-labels-idx1-ubyte.gz -q"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails+1)); }
acc_of() { sed -n 's/.*top-1 accuracy: \([0-9.]*\)%.*/\1/p' <<<"$1" | tail -1; }

check_qat() {  # NAME MODEL MODE [train options...]
  local name=$1 model=$2 mode=$3; shift 3
  out=$("$WEEC" train "$model" --qat $mode $TRAIN $TEST --epochs 1 --optimizer adam --lr-schedule cosine \
    --val-split 0 --seed 1 --calib-samples 200 "$@" -o "$OUT/$name.onnx" -q 2>&1); rc=$?
  echo "$out" | grep -E "^(QAT|epoch|test|wrote)"
  [ $rc -eq 0 ] || { fail "$name: weec train exited $rc: $out"; return; }
  local printed=$(sed -n 's/^test .* acc \([0-9.]*\)%$/\1/p' <<<"$out")
  local ci=$("$WEEC" eval "$OUT/$name.onnx" $EVAL --backend interp --quantize $mode 2>&1)
  local cc=$("$WEEC" eval "$OUT/$name.onnx" $EVAL --backend c --quantize $mode 2>&1)
  local ai=$(acc_of "$ci") ac=$(acc_of "$cc")
  echo "$name: weec train printed $printed%; integer interpreter $ai%, C $ac% (10000 test images)"
  [ -n "$ac" ] && [ "$ai" = "$ac" ] || fail "$name: C $ac% differs from the interpreter's $ai%: $cc"
  awk "BEGIN{d=$ai-$printed; exit !(d <= 1 && d >= -1)}" || fail "$name: integer $ai% vs fake-quantised $printed%"
  "$WEEC" compile "$OUT/$name.onnx" --quantize $mode -o "$OUT/${name}_c" > "$OUT/c.txt" 2>&1 || fail "$name: compile failed"
  if [ $mode = int4 ]; then  # 4-bit weights are stored packed
    grep -q "4-bit weights, two per byte" "$OUT/${name}_c/"*.c || fail "$name: no packed 4-bit weights in the C"
  fi
  "$WEEC" compile "$OUT/$name.onnx" --quantize $mode --calib $DATA/train-images-idx3-ubyte.gz -o "$OUT/x" \
    > "$OUT/e.txt" 2>&1 && fail "$name: --calib accepted on a model that is already quantised"
  grep -q "already quantised" "$OUT/e.txt" || fail "$name: unclear error: $(cat "$OUT/e.txt")"
  [ ! -e "$OUT/x" ] || fail "$name: a failed compile left output"
}

check_qat mlp8 "$SRC/examples/fashion_mnist/mlp.onnx" int8 --lr 1e-5
check_qat mlp4 "$SRC/examples/fashion_mnist/mlp.onnx" int4 --lr 1e-5 --lsq
"$WEEC" train --cnn 1x28x28:4,8:10 $TRAIN --epochs 1 --optimizer adam --lr 0.003 --seed 1 -o "$OUT/cnn.onnx" -q \
  > "$OUT/cnn.txt" 2>&1 || fail "--cnn training failed: $(cat "$OUT/cnn.txt")"
check_qat cnn8 "$OUT/cnn.onnx" int8 --lr 1e-4

"$WEEC" train --mlp 784,10 --qat int3 $TRAIN -o "$OUT/bad.onnx" > "$OUT/bad.txt" 2>&1 && fail "--qat int3 accepted"
grep -q "int3" "$OUT/bad.txt" || fail "unclear error for --qat int3: $(cat "$OUT/bad.txt")"
"$WEEC" train --cnn 1x28x28:8,8,8,8,8:10 $TRAIN -o "$OUT/bad.onnx" > "$OUT/bad.txt" 2>&1 && fail "5 pools on 28x28 accepted"
grep -q "cnn" "$OUT/bad.txt" || fail "unclear --cnn error: $(cat "$OUT/bad.txt")"
[ ! -e "$OUT/bad.onnx" ] || fail "a failed run left bad.onnx"
echo "$fails failed"
[ $fails -eq 0 ]
