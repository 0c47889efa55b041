#!/usr/bin/env bash
# Installs everything weec needs to build, test and run its demo, from Debian's
# archive only. Idempotent: packages already present are skipped by apt.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build git pkg-config clang-format ccache
  clang libclang-rt-14-dev                        # sanitizer build and libFuzzer targets (scripts/test.sh, fuzz.sh)
  libonnx-dev libprotobuf-dev protobuf-compiler   # ONNX protos, checker
  libonnx-testdata                                # ONNX 1.12 backend test suite
  libcli11-dev libfmt-dev nlohmann-json3-dev      # CLI, formatting, JSON
  zlib1g-dev                                      # gzip-compressed IDX data files
  libgtest-dev libgmock-dev libbenchmark-dev      # tests and microbenchmarks
  python3 python3-numpy python3-onnx python3-torch  # example model training/export
  dataset-fashion-mnist                           # real data for the example model
  graphviz                                        # renders `weec show --dot`
  gcc-arm-none-eabi libnewlib-arm-none-eabi       # Cortex-M0 builds of the int8 C (flash/RAM, no float)
  nodejs                                          # ONNX Runtime (npm onnxruntime-node) for comparisons
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
