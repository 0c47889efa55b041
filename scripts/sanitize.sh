#!/usr/bin/env bash
# The sanitizer stage of scripts/test.sh: builds build-san (clang, ASan+UBSan,
# -O1, with the libFuzzer targets) and runs under the sanitizers the unit
# tests, the interpreter conformance suite, the C conformance suite and a
# subset of the differential seeds with the generated C itself built with
# ASan+UBSan, the fuzz regressions, then each fuzz target for FUZZ_SECONDS
# (default 60). Any sanitizer report or failure stops it with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build-san
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
# A seed subset keeps the stage near 30 min on 2 cores; ctest runs all 500 unsanitized.
DIFF_SEEDS=${DIFF_SEEDS:-100}
start=$(date +%s)
step() { echo "== sanitize: $* ($(($(date +%s) - start)) s)"; }
trap 'echo "sanitize.sh: FAILED in the step above; the sanitizer build is not clean" >&2' ERR

step "build $B"
CCACHE_BASEDIR=$PWD cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_COMPILER_LAUNCHER="$(command -v ccache || true)" \
  -DWEEC_SANITIZE=ON -DWEEC_FUZZ=ON > /dev/null
CCACHE_BASEDIR=$PWD cmake --build $B

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Generated C under the same sanitizers; clang to match the host build.
SAN_CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
T=$B/tests

step "unit tests"
$T/weec_unit_tests --gtest_brief=1

step "conformance (interpreter)"
$T/weec_conformance --baseline tests/conformance/baseline.tsv \
  --tolerances tests/conformance/tolerances.tsv --tsv $B/conformance.tsv

step "conformance (generated C with ASan+UBSan)"
$T/weec_conformance --backend c --cc clang --cflags "$SAN_CFLAGS" \
  --baseline tests/conformance/baseline_c.tsv --tolerances tests/conformance/tolerances.tsv \
  --tsv $B/conformance_c.tsv
# A generated program's sanitizer report fails its test; the baseline may
# still hold if others improved, so look for the reports themselves.
if grep -E 'Sanitizer|runtime error' $B/conformance_c.tsv; then
  echo "sanitize.sh: generated C has sanitizer reports (above; all results in $B/conformance_c.tsv)" >&2
  exit 1
fi

step "differential, $DIFF_SEEDS seeds (generated C with ASan+UBSan) and regressions"
$T/weec_differential --first 0 --seeds "$DIFF_SEEDS" --cc clang --cflags "$SAN_CFLAGS" | tail -2
$T/weec_differential --regressions tests/differential/regressions --cc clang --cflags "$SAN_CFLAGS" | tail -2

step "hostile inputs through weec"
# A sanitizer report must not pass for the clean "exit 1" the cases expect.
ASAN_OPTIONS=$ASAN_OPTIONS:exitcode=86 UBSAN_OPTIONS=$UBSAN_OPTIONS:exitcode=86 HOSTILE_NO_ULIMIT=1 \
  bash tests/hostile/run.sh $B/tools/weec/weec . | grep -E ' FAIL |passed,'

step "fuzz regressions"
ctest --test-dir $B -R '^fuzz_regressions_' --output-on-failure

step "fuzz targets, ${FUZZ_SECONDS}s each"
FUZZ_BUILD=$B bash scripts/fuzz.sh all "$FUZZ_SECONDS"

step "sanitizer stage done"
