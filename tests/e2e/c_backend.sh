#!/usr/bin/env bash
# End to end through the C backend on the bundled Fashion-MNIST CNN:
#  - `weec test --backend c` reproduces PyTorch's logits within 1e-5 at -O0, -O1 and -O2;
#  - the generated files compile with -std=c99 -Wall -Wextra -Werror -pedantic under gcc and clang;
#  - the object file references no heap, stdio or other libc symbol (libm only if needed);
#  - two instances with their own arenas run in one program and agree with the static-arena entry point.
set -euo pipefail
WEEC=$1; SRC=$2; OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
EX=$SRC/examples/fashion_mnist
mkdir -p "$OUT/data"
cp "$EX/input_0.pb" "$OUT/data/input_0.pb"
cp "$EX/expected_output_0.pb" "$OUT/data/output_0.pb"
for level in -O0 -O1 -O2; do
  "$WEEC" test "$EX/model.onnx" "$OUT/data" --backend c $level --atol 1e-5
done

"$WEEC" compile "$EX/model.onnx" --input-shape image=1x1x28x28 -O2 -o "$OUT/c" --name fmnist | tee "$OUT/compile.txt"
grep -q "arena" "$OUT/compile.txt"
grep -q "#define fmnist_ARENA_BYTES" "$OUT/c/fmnist.h"
for cc in gcc clang; do
  $cc -std=c99 -Wall -Wextra -Werror -pedantic -O2 -c "$OUT/c/fmnist.c" -I "$OUT/c" -o "$OUT/fmnist_$cc.o"
  # Undefined symbols may only be libm functions, and memcpy/memmove/memset,
  # which gcc itself emits for copy loops even when freestanding. On x86-64
  # the AVX2 dispatch adds libgcc's CPU detection (__cpu_model,
  # __cpu_indicator_init; -DWEEC_NO_AVX2 removes it), and no other.
  bad=$(nm -u "$OUT/fmnist_$cc.o" | awk '{print $2}' | grep -Ev '^(__cpu_model|__cpu_indicator_init|_GLOBAL_OFFSET_TABLE_|memcpy|memmove|memset|expf?|logf?|sqrtf?|tanhf?|powf?|erff?|floorf?|ceilf?|fabsf?|fmodf?|rintf?|nearbyintf?|sinf?|cosf?|tanf?|asinf?|acosf?|atanf?|sinhf?|coshf?|asinhf?|acoshf?|atanhf?|log1pf?|expm1f?|roundf?|truncf?)$' || true)
  if [ -n "$bad" ]; then echo "unexpected symbols in generated code ($cc): $bad"; exit 1; fi
  # Without the dispatch the object needs no CPU detection at all.
  $cc -std=c99 -Wall -Wextra -Werror -pedantic -O2 -DWEEC_NO_AVX2 -c "$OUT/c/fmnist.c" -o "$OUT/plain_$cc.o"
  if nm -u "$OUT/plain_$cc.o" | grep -q __cpu_; then echo "-DWEEC_NO_AVX2 still references CPU detection"; exit 1; fi
done

cat > "$OUT/two.c" <<'C'
#include <stdio.h>
#include <string.h>
#include "fmnist.h"
static unsigned char arena1[fmnist_ARENA_BYTES] __attribute__((aligned(16)));
static unsigned char arena2[fmnist_ARENA_BYTES] __attribute__((aligned(16)));
int main(void) {
  static float x1[784], x2[784], y1[10], y2[10], y3[10], y4[10];
  int i;
  for (i = 0; i < 784; ++i) { x1[i] = (float)(i % 17) / 17.0f; x2[i] = (float)(i % 5) / 5.0f; }
  fmnist_run_with_arena(x1, y1, arena1);
  fmnist_run_with_arena(x2, y2, arena2);
  fmnist_run_with_arena(x1, y3, arena2);  /* arena2 reused for the other input */
  fmnist_run(x2, y4);
  if (memcmp(y1, y3, sizeof y1) || memcmp(y2, y4, sizeof y2)) { puts("instances disagree"); return 1; }
  if (!memcmp(y1, y2, sizeof y1)) { puts("different inputs gave identical logits"); return 1; }
  puts("two instances agree");
  return 0;
}
C
gcc -std=gnu99 -O2 -I "$OUT/c" "$OUT/two.c" "$OUT/c/fmnist.c" -o "$OUT/two" -lm
"$OUT/two"
echo "e2e c_backend: OK"
