// 4-bit weights stored packed in the generated C (`--quantize int4`).
//
// The quantize pass with weight_bits = 4 gives per-channel symmetric weights
// in [-7, 7], still int8 tensors in the graph: the interpreter, the passes
// and ONNX export all see int8. Only the C backend's storage changes: it
// stores an int8 constant packed two per byte when
//  * every value lies in [-8, 7] (int4_range), and
//  * every reader reads it as the weights of an integer weighted op
//    (reads_int4_weights: QGemm's and QConv's W), and it is no graph output.
// The choice is automatic, by value range, not a flag: int8 quantisation
// scales each channel to max |w| = 127, so its weights (all-zero tensors
// aside) never qualify and int8 models compile exactly as before, while any
// weights that fit in 4 bits (int4 quantisation, or a QDQ model whose own
// scales give small integers) take half the bytes, with identical results.
//
// Layout: element i of the flat row-major tensor is in byte i / 2, element
// 2j in the low nibble (bits 0-3) of byte j and element 2j + 1 in the high
// nibble (bits 4-7), as 4-bit two's complement; an odd count leaves the last
// byte's high nibble 0. Rows are not padded to whole bytes. The C reads a
// nibble n (0..15) as (n ^ 8) - 8: integer operations only, and no
// implementation-defined right shift of a negative value.
//
// Readers: the plain C loops of QGemm (a row's dot product two weights per
// byte, emit_q4_dot) and QConv (one weight per tap, weec_q4). QGemm's x86
// kernels read W in place and are skipped for packed W; QConv's read their
// own compile-time copies (x86 builds only) and are kept.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/c_emit.h"

namespace weec::qop {

// Whether t is int8 with every value in [-8, 7] (and at least one value).
bool int4_range(const Tensor& t);
// Whether input `input` of op `op` is weights whose C emitter reads the
// packed form when CEmitContext::packed_int4(input) says so.
bool reads_int4_weights(OpKind op, size_t input);
// The packed bytes of t (int4_range(t) must hold): (numel + 1) / 2 of them.
std::vector<uint8_t> pack_int4(const Tensor& t);

// Registers the helper `int32_t weec_q4(const uint8_t* w, int32_t i)`
// (element i of packed weights w) and returns its name.
std::string q4_at_c(CEmitBase& c);
// Emits `sum += sum_{k < K} X(k) * W[row * K + k]` for packed weights `w`
// (a `const uint8_t*` C expression), two weights per byte read: `x` is a
// format string with one {} for the C expression of X at k (of sum's type),
// `row` an int32 C expression. Its locals have fresh names, in a block.
void emit_q4_dot(CEmitContext& c, const std::string& sum, const std::string& w, const std::string& row,
                 int64_t K, const std::string& x);

}  // namespace weec::qop
