#!/usr/bin/env bash
# Hostile inputs: every file that make_hostile.py writes must be refused with
# exit code 1 (not a signal, not a timeout), an error containing the case's
# fragment, and nothing left in the output directory.
# Usage: run.sh WEEC SRC_DIR   (HOSTILE_KEEP=1 keeps the generated files)
set -uo pipefail
WEEC=$1; SRC=$2
WORK=$(mktemp -d)
[ -n "${HOSTILE_KEEP:-}" ] && echo "files in $WORK" || trap 'rm -rf "$WORK"' EXIT
/usr/bin/python3 "$SRC/tests/hostile/make_hostile.py" "$WORK/cases" > /dev/null || {
  echo "make_hostile.py failed"; exit 1; }
# A refused tensor must be refused before it is allocated: cap the address
# space so an attempt fails fast instead of swapping (ASan needs no cap).
[ -z "${HOSTILE_NO_ULIMIT:-}" ] && ulimit -v 4194304

passed=0; failed=0
printf '%-28s %-8s %-5s %s\n' case command ok 'exit / message'
check() {  # check NAME CMD FRAGMENT OUTDIR -- weec args...
  local name=$1 cmd=$2 frag=$3 out=$4; shift 5
  local msg rc why=""
  msg=$(timeout 20 "$WEEC" "$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 124 ]; then why="timed out"
  elif [ $rc -ne 1 ]; then why="exit $rc, wanted 1"
  elif [ -n "$frag" ] && ! grep -qF -- "$frag" <<<"$msg"; then why="message lacks '$frag'"
  elif [ -n "$(ls -A "$out" 2>/dev/null)" ]; then why="left files in the output directory"
  fi
  local first; first=$(head -c 150 <<<"$msg" | head -1)
  if [ -z "$why" ]; then
    passed=$((passed + 1)); printf '%-28s %-8s %-5s %s\n' "$name" "$cmd" ok "$first"
  else
    failed=$((failed + 1)); printf '%-28s %-8s %-5s %s: %s\n' "$name" "$cmd" FAIL "$why" "$msg"
  fi
}
while IFS=$'\t' read -r name cmd file arg frag; do
  out="$WORK/out/$name"
  case $cmd in
    compile)
      check "$name" compile "$frag" "$out" -- compile "$file" -o "$out"
      # show loads the same file without the pipeline: it may accept what only
      # compile-time passes refuse, but must never crash or hang.
      msg=$(timeout 20 "$WEEC" show "$file" 2>&1 >/dev/null); rc=$?
      if [ $rc -gt 1 ]; then
        failed=$((failed + 1)); printf '%-28s %-8s %-5s exit %s: %s\n' "$name" show FAIL $rc "$msg"
      fi ;;
    run) check "$name" run "$frag" "$out" -- run "$file" "$arg" -o "$out" ;;
  esac
done < "$WORK/cases/cases.tsv"
# The limit is configurable: a 1 KiB limit refuses the Fashion-MNIST weights.
check max_tensor_bytes_1KiB compile "maximum tensor size of 1024 bytes" "$WORK/out/limit" -- \
  --max-tensor-bytes 1KiB compile "$SRC/examples/fashion_mnist/model.onnx" -o "$WORK/out/limit"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
