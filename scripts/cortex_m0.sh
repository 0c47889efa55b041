#!/usr/bin/env bash
# Builds generated C for a Cortex-M0 (ARMv6-M: no FPU, soft-float ABI) with
# Debian's gcc-arm-none-eabi and reports what the chip would hold:
#   flash = text + data (code, const weights, initialised data)
#   RAM   = data + bss  (the static arena is in bss)
# and fails if the object needs any floating-point helper from libgcc
# (__aeabi_f*/__aeabi_d*/__aeabi_*2f/*2d): integer-only code needs none.
# Usage: scripts/cortex_m0.sh DIR NAME   (DIR/NAME.c from `weec compile --name NAME`)
set -euo pipefail
DIR=$1; NAME=$2
CC=arm-none-eabi-gcc
command -v $CC > /dev/null || { echo "cortex_m0.sh: $CC is missing (scripts/setup.sh installs gcc-arm-none-eabi)" >&2; exit 2; }
OBJ=$(mktemp --suffix=.o); trap 'rm -f "$OBJ"' EXIT
$CC -mcpu=cortex-m0 -mthumb -mfloat-abi=soft -Os -std=c99 -Wall -Wextra -Werror -pedantic \
  -ffunction-sections -fdata-sections -c "$DIR/$NAME.c" -o "$OBJ"
read -r text data bss _ < <(arm-none-eabi-size "$OBJ" | tail -1)
undefined=$(arm-none-eabi-nm -u "$OBJ" | awk '{print $2}' | tr '\n' ' ')
float_syms=$(arm-none-eabi-nm -u "$OBJ" | awk '{print $2}' | grep -E '^__aeabi_(f|d|[a-z0-9]*2f$|[a-z0-9]*2d$)|^__(add|sub|mul|div)(s|d)f3$' || true)
echo "cortex-m0 ($NAME): flash $((text + data)) B (text+rodata $text, data $data), RAM $((data + bss)) B (bss $bss incl. the arena)"
echo "cortex-m0 ($NAME): undefined symbols: ${undefined:-none}"
if [ -n "$float_syms" ]; then
  echo "cortex-m0 ($NAME): FLOAT helpers referenced: $(echo $float_syms)" >&2
  exit 1
fi
echo "cortex-m0 ($NAME): float symbols: none"
