#!/usr/bin/env bash
# weec train end to end: an MLP from scratch on 6,000 Fashion-MNIST training
# images (IDX .gz) for 2 epochs. It must report each epoch, reach 75% on the
# test images, and write an ONNX model whose accuracy under `weec eval`
# (interpreter and C backend) is the one `weec train` printed. Two runs with
# the same seed write identical files. Bad arguments exit non-zero, leaving
# no file.
set -uo pipefail
WEEC=$1; SRC=$2; OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
DATA=/usr/share/datasets/fashion-mnist
fails=0
fail() { echo "FAIL: $*"; fails=$((fails+1)); }
train() {  # train OUTPUT
  "$WEEC" train --mlp 784,64,10 --data $DATA/train-images-idx3-ubyte.gz --labels $DATA/train-labels-idx1-ubyte.gz \
    --limit 6000 --epochs 2 --lr 0.05 --seed 3 --test-data $DATA/t10k-images-idx3-ubyte.gz \
    --test-labels $DATA/t10k-labels-idx1-ubyte.gz -o "$1" -q 2>&1
}
out=$(train "$OUT/a.onnx"); rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "weec train exited $rc"
grep -q "^epoch 2/2: loss" <<<"$out" || fail "no line for epoch 2"
acc=$(sed -n 's/^test .* acc \([0-9.]*\)%$/\1/p' <<<"$out")
[ -n "$acc" ] && awk "BEGIN{exit !($acc >= 75)}" || fail "test accuracy '$acc' below 75%"
for backend in interp c; do
  ev=$("$WEEC" eval "$OUT/a.onnx" --input-shape input=1x784 --inputs $DATA/t10k-images-idx3-ubyte.gz \
    --labels $DATA/t10k-labels-idx1-ubyte.gz --backend $backend -q 2>&1)
  got=$(sed -n 's/.*top-1 accuracy: \([0-9.]*\)%.*/\1/p' <<<"$ev")
  [ "$got" = "$acc" ] || fail "weec eval --backend $backend gives '$got'%, weec train printed '$acc'%"
done
train "$OUT/b.onnx" > /dev/null || fail "second run failed"
cmp -s "$OUT/a.onnx" "$OUT/b.onnx" || fail "two runs with seed 3 wrote different models"
"$WEEC" train --mlp 784,10 --data $DATA/train-images-idx3-ubyte.gz --labels $DATA/t10k-labels-idx1-ubyte.gz \
  -o "$OUT/bad.onnx" > "$OUT/bad.txt" 2>&1 && fail "60000 images with 10000 labels accepted"
grep -q "60000 samples but 10000 targets" "$OUT/bad.txt" || fail "unclear error: $(cat "$OUT/bad.txt")"
[ ! -e "$OUT/bad.onnx" ] || fail "a failed run left bad.onnx"
echo "$fails failed"
[ $fails -eq 0 ]
