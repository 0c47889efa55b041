#!/usr/bin/env bash
# The main job: install dependencies, build weec, and run the flagship demo on
# the bundled Fashion-MNIST CNN (trained and exported by
# scripts/make_example_model.py with PyTorch): show its IR, run it in weec's
# reference interpreter, check the logits against PyTorch's own, then compile it to
# C, build and run that, and time both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build --target weec

mkdir -p out/fashion_mnist
WEEC=./build/tools/weec/weec
EX=examples/fashion_mnist
echo "== weec show $EX/model.onnx"
$WEEC show $EX/model.onnx --dot out/fashion_mnist/model.dot
echo
echo "== weec run (8 test images)"
$WEEC run $EX/model.onnx --input image=$EX/input_0.npy --output-dir out/fashion_mnist --npy
echo "   true labels:            [9, 2, 1, 1, 6, 1, 4, 6]  (examples/fashion_mnist/labels.npy)"
echo
echo "== weec's logits vs PyTorch's (tolerance 1e-5)"
$WEEC compare out/fashion_mnist/output_0.npy $EX/expected_output_0.npy --atol 1e-5
echo
echo "== weec compile -O2 to C (one static arena, no heap, no stdio)"
$WEEC compile $EX/model.onnx --input-shape image=1x1x28x28 -O2 -o out/fashion_mnist/c --name fmnist
echo
echo "== the generated C, built with cc and run on the same 8 images, vs PyTorch's logits"
mkdir -p out/fashion_mnist/data
cp $EX/input_0.pb out/fashion_mnist/data/input_0.pb
cp $EX/expected_output_0.pb out/fashion_mnist/data/output_0.pb
$WEEC test $EX/model.onnx out/fashion_mnist/data --backend c -O2 --atol 1e-5
echo
echo "== latency per inference (batch 1, cc -O3): generated C vs the interpreter"
$WEEC bench $EX/model.onnx --input-shape image=1x1x28x28 --backend c --runs 1000
$WEEC bench $EX/model.onnx --input-shape image=1x1x28x28 --backend interp --runs 200
