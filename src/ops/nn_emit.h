// C emission shared by the conv/matmul family: the convolution loop nest
// (Conv, ConvInteger, QLinearConv), the numpy-matmul loop nest (MatMul,
// MatMulInteger, QLinearMatMul) and the 8-bit requantisation helper. The
// op files describe how operands are read and how each accumulator becomes
// an output value; these functions write the loops, so every variant gets
// the same vectorisable inner loops and writes its output only via store().
#pragma once

#include <functional>
#include <string>

#include "ops/c_emit.h"
#include "ops/conv_util.h"

namespace weec::nn {

// A conv-like op: X input x_in (N, C_in, in...), W input w_in (C_out,
// C_in/group, kernel...). For each (n, oc) the output plane accumulates in a
// scratch buffer of type `acc`: for every kernel tap, a loop over the output
// positions whose tap lands inside X (so padding needs no test in the loop).
struct ConvEmitSpec {
  ConvProblem p;
  // ConvTranspose: W is (C_in, C_out/group, kernel...) and every tap
  // scatters X[i] to Y[i * s + k * d - pad_begin] (p.w.in: X's spatial dims,
  // p.w.out: Y's), looping over the X positions that land inside Y.
  bool transposed = false;
  size_t x_in = 0, w_in = 1;
  DType acc = DType::F32;
  // Accumulator-typed operand from a raw element expression: e.g. the
  // zero-point subtraction of the integer convs. Empty: a cast to acc.
  std::function<std::string(const std::string&raw)> x_value, w_value;
  // Lines at the start of each output channel's body (per-channel constants).
  std::function<void(const std::string& oc)> per_channel;
  // Initial accumulator value for channel oc ("" = zero).
  std::function<std::string(const std::string& oc)> init;
  // The stored value from the accumulator expression.
  std::function<std::string(const std::string& acc, const std::string& oc)> finish;
};
Status emit_conv(CEmitContext& c, const ConvEmitSpec& s);

// Float 1-D/2-D convs as GEMMs (conv_gemm_emit.cc): whether the spec is
// one, and the emission; false (nothing written) when even one output row
// needs more scratch than its budget (emit_conv then uses the per-tap loops).
bool conv_gemm_applies(const CEmitContext& c, const ConvEmitSpec& s);
bool emit_conv_gemm(CEmitContext& c, const ConvEmitSpec& s);

// Float depthwise convs (group = C_in = C_out) of stride 1 and OW = W
// (depthwise_emit.cc): whether the AVX-512 kernel takes them, and its
// emission, the node's whole output: "if (weec_cpu_avx512()) { ... } else"
// under WEEC_SIMD_AVX512, for the caller to follow with a block of the
// GEMM path.
bool depthwise_applies(const CEmitContext& c, const ConvEmitSpec& s);
void emit_depthwise_avx512(CEmitContext& c, const ConvEmitSpec& s);

// The float GEMM helper (simd_gemm_emit.cc), registered once per file;
// returns its name. A call
//   weec_sgemm(M, N, nc, nt, a, lda, b, ldb, toff, c, ldc)
// sets, for m < M and j < N,
//   c[m * ldc + j] = sum_{ic < nc, t < nt} a[m * lda + ic * nt + t] * b[ic * ldb + toff[t] + j]
// (every argument an int32_t or float pointer; c must not overlap a or b).
// Register-tiled AVX-512 or AVX2+FMA code where the CPU has it (x86-64,
// GCC/Clang), 4-wide vector extensions with SSE2/NEON, plain C otherwise.
std::string sgemm_helper(CEmitBase& c);
// Feature tests every SIMD helper relies on, registered once: where the
// AVX2 code may run, WEEC_SIMD_AVX2 is defined and weec_cpu_avx2_fma()
// says whether this CPU has AVX2 and FMA. -DWEEC_NO_SIMD (plain C) and
// -DWEEC_NO_AVX2 turn them off.
void simd_prelude(CModuleNeeds& needs);
// The prelude plus the 4-wide float vector types of GCC's vector
// extensions (WEEC_SIMD_VEC4), for float kernels only.
void simd_float_vectors(CModuleNeeds& needs);
// The prelude plus the AVX-512 feature test, for files that call it:
// WEEC_SIMD_AVX512 and weec_cpu_avx512() (off with -DWEEC_NO_AVX512, or
// -DWEEC_NO_AVX2 which turns off both).
void simd_avx512(CModuleNeeds& needs);
// Whether an anchor's weec_sgemm may write output 0's buffer (c.out(0))
// before storing through store() in place (matmul_emit.cc): not when a fused
// epilogue changes its type or shape, nor when it reads a value of the
// output's shape from outside the group, which plan-memory may place in
// the output's buffer.
bool gemm_output_writable_early(const CEmitContext& c);
// A static const int32_t table of these offsets (the toff of weec_sgemm);
// returns its name. Equal tables are emitted once.
std::string tap_offsets(CEmitBase& c, const std::vector<int64_t>& offsets);

// A numpy matmul of inputs a_in, b_in (1-D promotion, broadcast batch dims).
// Each output row accumulates in a scratch row of type `acc`:
// row[j] += a[i, k] * b[k, j], the inner loop contiguous in B.
struct MatMulEmitSpec {
  size_t a_in = 0, b_in = 1;
  DType acc = DType::F32;
  // Accumulator-typed operands from raw element expressions; `row`/`col` are
  // the C names of the element's row of A / column of B (per-row or
  // per-column zero points). Empty: a cast to acc.
  std::function<std::string(const std::string& raw, const std::string& row)> a_value;
  std::function<std::string(const std::string& raw, const std::string& col)> b_value;
  // Lines at the start of each output row (after the row index is known).
  std::function<void(const std::string& row)> per_row;
  // The stored value from the accumulator expression.
  std::function<std::string(const std::string& acc, const std::string& row, const std::string& col)> finish;
};
Status emit_matmul(CEmitContext& c, const MatMulEmitSpec& s);

// Name of a static C helper `int32_t NAME(double v, int32_t zp)`: round half
// to even, add the zero point, saturate to `to` (u8/i8); NaN gives 0. The
// same rule as the kernels' saturate_q.
std::string requantize_helper(CEmitBase& c, DType to);

// Normalisation ops (normalization_emit.cc): not fusable, so they write
// their outputs directly. Statistics are computed in double like the kernels.
Status emit_batchnorm(CEmitContext& c);
Status emit_instancenorm(CEmitContext& c);
Status emit_layernorm(CEmitContext& c);
Status emit_lrn(CEmitContext& c);
Status emit_lpnorm(CEmitContext& c);
Status emit_mvn(CEmitContext& c);
Status emit_dropout(CEmitContext& c);

// The smallest signed accumulator that holds `terms` products of two values
// each within [-255, 255] exactly.
inline DType int_acc_type(int64_t terms) {
  return terms <= (int64_t)2147483647 / (255 * 255) ? DType::I32 : DType::I64;
}

}  // namespace weec::nn
