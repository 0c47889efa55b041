#!/usr/bin/env bash
# weec eval end to end. On the 10,000 Fashion-MNIST test images (IDX .gz, read
# directly), the top-1 accuracy weec prints for the demo models, through the
# interpreter and through the C backend, must equal PyTorch's own accuracy
# (models.json, measured by examples/fashion_mnist/train.py) within 0.05
# percentage points. --reference is checked against PyTorch's saved logits.
# Bad input exits non-zero with a message.
set -uo pipefail
WEEC=$1; SRC=$2; OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
EX=$SRC/examples/fashion_mnist
DATA=/usr/share/datasets/fashion-mnist
IMAGES=$DATA/t10k-images-idx3-ubyte.gz; LABELS=$DATA/t10k-labels-idx1-ubyte.gz
fails=0
fail() { echo "FAIL: $*"; fails=$((fails+1)); }

torch_accuracy() {  # percent, from the number PyTorch got right
  /usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["models"][sys.argv[2]]
print(100.0 * m["test_correct"] / 10000)' "$EX/models.json" "$1"
}

check_accuracy() {  # check_accuracy MODEL BACKEND
  local model=$1 backend=$2 out t0 t1 got want
  t0=$(date +%s.%N)
  out=$("$WEEC" eval "$EX/$model.onnx" --inputs "$IMAGES" --labels "$LABELS" --backend "$backend" 2>&1)
  local rc=$?
  t1=$(date +%s.%N)
  echo "$out"
  [ $rc -eq 0 ] || { fail "$model on $backend exited $rc"; return; }
  grep -q "samples: 10000" <<<"$out" || fail "$model on $backend: no 'samples: 10000'"
  got=$(sed -n 's/.*top-1 accuracy: \([0-9.]*\)%.*/\1/p' <<<"$out")
  want=$(torch_accuracy "$model")
  if ! awk -v g="$got" -v w="$want" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && d <= 0.05) }'; then
    fail "$model on $backend: weec top-1 ${got:-?}% vs PyTorch ${want}%"
  fi
  if [ "$backend" = c ]; then grep -q "arena .* weights .* code" <<<"$out" || fail "$model on c: no sizes line"; fi
  printf "%s on %s: weec %s%%, PyTorch %s%%, %.1f s wall\n" "$model" "$backend" "$got" "$want" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
}

check_accuracy mlp interp
check_accuracy mlp c
check_accuracy cnn c

# --reference: PyTorch's logits for the first 8 test images (model.onnx, normalised inputs).
out=$("$WEEC" eval "$EX/model.onnx" --input-shape image=1x1x28x28 --inputs "$EX/input_0.npy" \
  --reference "$EX/expected_output_0.npy" --backend c 2>&1) || fail "--reference run failed: $out"
echo "$out"
max_err=$(sed -n 's/.*max abs error \([0-9.e+-]*\).*/\1/p' <<<"$out")
awk -v e="$max_err" 'BEGIN { exit !(e != "" && e < 1e-5) }' || fail "max abs error vs PyTorch '$max_err' >= 1e-5"

out=$("$WEEC" eval "$EX/cnn.onnx" --inputs "$IMAGES" --labels "$LABELS" --limit 100 2>&1)
grep -q "samples: 100$" <<<"$out" || fail "--limit 100: $out"

expect_error() {  # expect_error "needle" cmd...
  local needle=$1; shift
  local msg; msg=$("$@" 2>&1); local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ] || ! grep -qF -- "$needle" <<<"$msg"; then
    fail "'$*' exited $rc, wanted an error mentioning '$needle'; got: $msg"
  fi
}
M=$EX/mlp.onnx
expect_error "has 1 elements; the model's input 'image' is f32[1,1,28,28] with 784" \
  "$WEEC" eval "$M" --inputs "$LABELS" --labels "$LABELS"
expect_error "cannot open '$OUT/missing.npy'" "$WEEC" eval "$M" --inputs "$OUT/missing.npy" --labels "$LABELS"
expect_error "cannot open '$OUT/missing-ubyte.gz'" "$WEEC" eval "$M" --inputs "$IMAGES" --labels "$OUT/missing-ubyte.gz"
expect_error "has 10000 samples but labels" "$WEEC" eval "$M" --inputs "$IMAGES" --labels "$DATA/train-labels-idx1-ubyte.gz"
expect_error "give --labels" "$WEEC" eval "$M" --inputs "$IMAGES"
expect_error "does not exist" "$WEEC" eval "$OUT/missing.onnx" --inputs "$IMAGES" --labels "$LABELS"
head -c 3000 "$IMAGES" > "$OUT/cut-ubyte.gz"
expect_error "truncated IDX data" "$WEEC" eval "$M" --inputs "$OUT/cut-ubyte.gz" --labels "$LABELS"
expect_error "a reference sample has 784 elements; the model's output 'logits' is f32[1,10]" "$WEEC" eval "$EX/model.onnx" --input-shape image=1x1x28x28 \
  --inputs "$EX/input_0.npy" --reference "$EX/input_0.npy"
[ $fails -eq 0 ] && echo "e2e eval: OK"
exit $fails
