#!/usr/bin/env bash
# Runs a libFuzzer target (tests/fuzz) with ASan+UBSan for SECONDS:
#   scripts/fuzz.sh onnx_loader|text_ir|npy|tensor_pb|all SECONDS
# Builds $FUZZ_BUILD (default build-fuzz: clang, WEEC_SANITIZE=ON, WEEC_FUZZ=ON)
# if needed. The corpus grows in $FUZZ_BUILD/corpus/TARGET across runs; a
# crash is saved in $FUZZ_BUILD/artifacts/TARGET/ and fails the script.
# Extra libFuzzer flags: FUZZ_FLAGS="-jobs=2".
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=(onnx_loader text_ir npy tensor_pb)
if [ $# -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 ${TARGETS[*]// /|}|all SECONDS" >&2
  exit 2
fi
if [ "$1" = all ]; then run=("${TARGETS[@]}"); else run=("$1"); fi
for t in "${run[@]}"; do
  [[ " ${TARGETS[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t' (${TARGETS[*]})" >&2; exit 2; }
done
SECONDS_EACH=$2
B=${FUZZ_BUILD:-build-fuzz}

if [ ! -f "$B/build.ninja" ]; then
  CCACHE_BASEDIR=$PWD cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_COMPILER_LAUNCHER="$(command -v ccache || true)" \
    -DWEEC_SANITIZE=ON -DWEEC_FUZZ=ON > /dev/null
fi
CCACHE_BASEDIR=$PWD cmake --build "$B" --target weec "${run[@]/#/weec_fuzz_}"
/usr/bin/python3 tests/fuzz/make_corpus.py --out "$B/corpus" --src . --weec "$B/tools/weec/weec" "${run[@]}"

# Leaks are findings too; UB stops the run (-fno-sanitize-recover) with a trace.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${run[@]}"; do
  mkdir -p "$B/artifacts/$t" "$B/logs"
  log="$B/logs/$t.log"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  echo "fuzz.sh: $t for ${SECONDS_EACH}s (log $log)"
  # -timeout: an input that takes 25 s is a hang worth a look, not a slow seed.
  # -rss_limit_mb: the targets cap tensors at 1 MiB, so 2 GiB means a leak or a bug.
  rc=0
  "$B/tests/fuzz/weec_fuzz_$t" "$B/corpus/$t" "${dict[@]}" -max_total_time="$SECONDS_EACH" \
    -print_final_stats=1 -timeout=25 -rss_limit_mb=2048 -artifact_prefix="$B/artifacts/$t/" \
    ${FUZZ_FLAGS:-} > "$log" 2>&1 || rc=$?
  # libFuzzer's last status line ("#N DONE cov: ... ft: ... corp: ...") and its final stats.
  grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)' "$log" | tail -1 || true
  grep -E '^stat::' "$log" || true
  echo "corpus $t: $(find "$B/corpus/$t" -type f | wc -l) files"
  if [ $rc -ne 0 ]; then
    echo "fuzz.sh: $t FAILED (exit $rc); the input is in $B/artifacts/$t/:" >&2
    grep -E 'ERROR|SUMMARY|runtime error|invariant broken|Test unit written' "$log" | head -20 >&2 || true
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz.sh: findings in ${failed[*]}; replay one with $B/tests/fuzz/weec_fuzz_TARGET FILE" >&2
  exit 1
fi
