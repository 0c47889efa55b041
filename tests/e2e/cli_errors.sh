#!/usr/bin/env bash
# Bad input gets a clear message and a non-zero exit, never a crash, and never
# a partial output directory.
set -uo pipefail
WEEC=$1; SRC=$2; OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
EX=$SRC/examples/fashion_mnist
fails=0
expect_error() {  # expect_error "needle" cmd...
  local needle=$1; shift
  local msg; msg=$("$@" 2>&1); local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ] || ! grep -qF -- "$needle" <<<"$msg"; then
    echo "FAIL: '$*' exited $rc, wanted an error mentioning '$needle'; got: $msg"; fails=$((fails+1))
  fi
}
head -c 1000 "$EX/model.onnx" > "$OUT/truncated.onnx"
expect_error "not a valid ONNX model" "$WEEC" show "$OUT/truncated.onnx"
expect_error "does not exist" "$WEEC" run "$OUT/missing.onnx"
expect_error "no input 'nope'" "$WEEC" run "$EX/model.onnx" --input nope="$EX/input_0.npy"
expect_error "no data for input 'image'" "$WEEC" run "$EX/model.onnx"
expect_error "expected f32" "$WEEC" run "$EX/model.onnx" --input image="$EX/labels.npy" -o "$OUT/o1"
expect_error "expected .npy or .pb" "$WEEC" run "$EX/model.onnx" --input image="$EX/README.md" -o "$OUT/o2"
head -c 100 "$EX/input_0.npy" > "$OUT/bad.npy"
expect_error "truncated" "$WEEC" run "$EX/model.onnx" --input image="$OUT/bad.npy" -o "$OUT/o3"
# Text IR gets the verifier: unknown attributes and types that disagree with inference.
printf 'graph main(%%x: f32[2]) -> (%%y) {\n  %%y: f32[2] = Relu(%%x) {alpha=1.0}\n  return %%y\n}\n' > "$OUT/attr.wir"
expect_error "unknown attribute 'alpha'" "$WEEC" show "$OUT/attr.wir"
printf 'graph main(%%x: f32[2]) -> (%%y) {\n  %%y: f32[3] = Relu(%%x)\n  return %%y\n}\n' > "$OUT/type.wir"
expect_error "inference gives f32[2]" "$WEEC" show "$OUT/type.wir"
printf 'graph main(%%x: f32[2]) -> (%%y) {\n  %%y: f32[2] = Relu(%%x\n' > "$OUT/syntax.wir"
expect_error "3:1" "$WEEC" run "$OUT/syntax.wir"
for d in o1 o2 o3; do
  if [ -n "$(ls -A "$OUT/$d" 2>/dev/null)" ]; then echo "FAIL: $d has partial outputs"; fails=$((fails+1)); fi
done
[ $fails -eq 0 ] && echo "cli errors: OK"
exit $fails
