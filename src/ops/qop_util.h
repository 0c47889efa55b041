// Shared by weec's integer-only ops (qconv.cc, qgemm.cc, qelementwise.cc,
// qpool.cc): the output rescaling every one of them ends with, and its C form.
//
// An integer op computes an int32 accumulator `acc` (already offset by the
// input zero points) and writes
//   y = clamp(y_zero_point + multiply_by_quantized_multiplier(acc, m0, shift), lo, hi)
// with m0/shift from the attributes `multiplier`/`shift` (one entry, or one
// per output channel where the op allows it), [lo, hi] = [act_min, act_max]
// intersected with out_dtype's range. Accumulators that could exceed int32
// saturate to it first (the kernels compute in int64; the C code uses int32
// where a compile-time bound proves that exact, else int64 and saturation).
#pragma once

#include <string>
#include <vector>

#include "ops/c_emit.h"
#include "ops/conv_util.h"
#include "quant/fixed_point.h"

namespace weec::qop {

// The range of an integer dtype.
struct IntRange {
  int64_t lo = 0, hi = 0;
};
IntRange dtype_range(DType t);
inline bool is_q8(DType t) { return t == DType::I8 || t == DType::U8; }

// out_dtype attribute: ONNX TensorProto codes 3 (INT8), 2 (UINT8), 5 (INT16), 6 (INT32).
Expected<DType> read_out_dtype(const NodeContext& ctx);
// An integer zero-point attribute, checked against the range of `t`.
Expected<int32_t> read_zero_point(const NodeContext& ctx, const std::string& name, DType t);
// The largest |x - zp| for x of dtype t.
int64_t max_abs_offset(DType t, int64_t zp);
// int64 saturated to int32.
inline int32_t sat32(int64_t v) { return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v; }

struct Requant {
  DType out = DType::I8;
  std::vector<int32_t> m0, shift;  // one entry, or one per channel
  int32_t zp = 0;
  int32_t lo = -128, hi = 127;  // effective clamp in the output's quantised domain
  bool per_channel() const { return m0.size() > 1; }
  int32_t apply(int64_t acc, size_t channel) const {
    const size_t i = m0.size() > 1 ? channel : 0;
    const int64_t y = (int64_t)zp + quant::multiply_by_quantized_multiplier(sat32(acc), m0[i], shift[i]);
    return (int32_t)(y < lo ? lo : y > hi ? hi : y);
  }
};

// The attributes read by read_requant: y_zero_point, multiplier, shift,
// act_min, act_max, out_dtype.
std::vector<AttrSpec> requant_attrs();
// Reads and checks them. `channels`: the per-channel count allowed besides
// 1 (0: per tensor only; -1: not known yet, any count accepted). With
// `multiplier_optional`, absent multiplier/shift leave m0/shift empty.
Expected<Requant> read_requant(const NodeContext& ctx, int64_t channels, bool multiplier_optional = false);

// ---- C ----

inline std::string lit32(int64_t v) { return c_literal_i64(v, DType::I32); }

// Registers the fixed-point helpers (weec_srdhm, weec_rdbpot, weec_mbqm) and
//   int32_t weec_requant(int32_t acc, int32_t m0, int32_t shift, int32_t zp, int32_t lo, int32_t hi)
// (generated C is built with -Wunused-function -Werror: register a helper
// only where the code calls it).
void register_c_helpers(CEmitBase& c);
// Registers `int32_t weec_sat32(int64_t)` and returns its name.
std::string sat32_c(CEmitBase& c);
// "(T)weec_requant(acc, m0, shift, zp, lo, hi)" for r's output type; `acc`
// is an int32 expression (wrap int64 ones in weec_sat32(...)), m0/shift C
// expressions (literals for per-tensor, table elements per channel).
std::string requant_c(CEmitBase& c, const Requant& r, const std::string& acc, const std::string& m0,
                      const std::string& shift);
// m0/shift C expressions of channel `ch` (literals, or elements of static
// tables declared with `w` in the current function).
struct RequantC {
  std::string m0_table, shift_table;  // empty for per-tensor
  std::string m0(const Requant& r, const std::string& ch) const;
  std::string shift(const Requant& r, const std::string& ch) const;
};
RequantC declare_requant_tables(CEmitContext& c, const Requant& r);
// `static const int32_t NAME[] = {...};` in the current function; returns NAME.
std::string static_table(CEmitContext& c, const std::string& hint, DType t, const std::vector<int64_t>& v);

// ---- AVX2 kernels (q8_avx2_emit.cc, q8_avx2_finish_emit.cc) ----
// Each registers its C text (under `#if defined(WEEC_SIMD_AVX2)`, after
// nn::simd_prelude) and returns its name. Callers emit the call under the
// same #if and `if (weec_cpu_avx2_fma())`, with their plain C as the else.
//   gemm(M, N, kp_n, ap, b, roff, c, ldc), N >= 16:
//     c[m * ldc + j] = sum_{k < 2 kp_n} A[m][k] * b[roff[k] + j]
//     A as pack_pairs(rows, K) (ap + m * kp_n is row m), b of dtype b
//     (int8/uint8), roff 2 * kp_n row offsets (an odd K's last pair pointing
//     at any row: its weight is 0). With b = int16 the pairs are taps at
//     b[roff[kp] + j] and b[roff[kp] + j + 1] (kp_n offsets).
//   gemv(N, K, x, w, y): y[n] = sum_k x[k] * w[n * K + k], w int8 [N][K].
//   requant(acc, n, bias, m0, right, lo, hi, zp), in place:
//     acc[j] = clamp(mbqm(acc[j] + bias, m0, -right), lo, hi) + zp
//     (lo, hi from rq_bounds; bias, m0/right per lane with lane_bias/lane_m0).
//     Whole vectors of 8: acc and the lane tables must extend to n rounded
//     up to 8 (the extra lanes are computed and ignored).
//   finish(acc, m, ld, rows, w, p, bias, m0, right, lo, hi, zp): for each
//     row r < m of acc (pitch ld): if p != w, its rows of p columns become
//     rows of w (in place; reads up to 8 past (rows - 1) * p), then the
//     rescale above of rows * w values with bias[r] (bias may be null),
//     m0[r], right[r]. With `add`, the rounding-add form: needs 8/16-bit
//     output and rq_add_ok for every row.
//   widen(x, h, w, d, pw, pad): d[r * pw + i] = x[r * w + i] (int16 d, X's
//     8-bit x) for r < h, i < w, d's padding columns and rows (already pad)
//     left at pad; may write pad up to d + (h - 1) * pw + w + 8.
std::string avx2_gemm(CEmitBase& c, DType b);
std::string avx2_gemv(CEmitBase& c, DType x);
std::string avx2_requant(CEmitBase& c, bool lane_bias, bool lane_m0);
std::string avx2_finish(CEmitBase& c, bool add);
std::string avx2_widen(CEmitBase& c, DType x);
// A file-scope `static const int32_t` table for the AVX2 code only (under the
// same #if, so other targets carry no copy); named by its content, sized to
// a multiple of 8. `vnni`: for the VNNI code only (under its #if: a build
// without it must not carry an unused table).
std::string avx2_table(CEmitBase& c, const std::string& hint, const std::vector<int32_t>& v,
                       bool vnni = false);
// The shared parts: the feature test and attribute macros, and the #if.
void avx2_prelude(CEmitBase& c);
std::string avx2_guarded(const std::string& body);
// Rows of int8 [rows][k] as int32 words of two int16 (k even, k odd): the
// broadcast operand of vpmaddwd; an odd k's last word pairs with 0.
std::vector<int32_t> pack_pairs(const int8_t* w, int64_t rows, int64_t k);
// Whether the vector rescaling is exact for r: right shifts only, and no
// m0 of INT32_MIN (the one SRDHM input that saturates).
bool requant_simd_ok(const Requant& r);
// Whether the rounding-add rescale cannot overflow: |acc + bias| <=
// acc_bound, and acc_bound + 2^(right - 1) + |zp| * 2^right <= INT32_MAX.
bool rq_add_ok(int64_t acc_bound, int32_t shift, int32_t zp);
// clamp(zp + v, lo, hi) == clamp(v, lo - zp, hi - zp) + zp, the bounds
// clipped to int32 (an unreachable bound changes nothing): no int32
// overflow anywhere.
struct RqBounds {
  int32_t lo = 0, hi = 0;
};
RqBounds rq_bounds(const Requant& r);

// ---- AVX-512 VNNI kernels (q8_vnni_emit.cc) ----
// Each registers its C text (under `#if defined(WEEC_SIMD_VNNI)`) and
// returns its name. Callers emit the call under the same #if and
// `if (weec_cpu_avx512vnni())`, ahead of their AVX2 and plain C forms.
//   pack(b, roff, k4n, rows, w, p, d, np): d[(k4 * np + j) * 4 + i] =
//     u8(b[roff[4 k4 + i] + (j / w) * p + j % w]) for j < rows * w (all of
//     it one row when p == w), u8 being x + 128 for int8 X (vnni_pack's x);
//     b of dtype `b` (X's 8-bit type, or int16 holding X's values).
//     np >= rows * w, a multiple of 16.
//   conv(M, N, k4n, wq, bp, np, c, ldc, bias, m0, right, lo, hi, zp), M <= 6:
//     c[m * ldc + j] = clamp(mbqm(bias[m] + sum_k4 <bp quad (k4, j), wq[m *
//     k4n + k4]>, m0[m], -right[m]), lo, hi) + zp for j < N (bias may be
//     null; lo, hi from rq_bounds; `add`: the rounding-add form, as
//     avx2_finish). For int8 X the bias must include -128 * sum(w).
//   gemv(N, K, x, w, corr, y): y[n] = corr[n] + sum_k u8(x[k]) * w[n * K + k]
//     (corr may be null; int8 x counts as x + 128, corr corrects that).
std::string vnni_pack(CEmitBase& c, DType b, DType x);
std::string vnni_conv(CEmitBase& c, bool add);
std::string vnni_gemv(CEmitBase& c, DType x);
// The vector rescale as macros for a kernel's own loops:
// WEEC_Q8V_RQ{,A}_CONSTS(r) declares row r's constants (reading m0[r],
// right[r], lo, hi, zp), then WEEC_Q8V_RQ{,A}(x) rescales a vector of sums.
void vnni_rescale(CEmitBase& c, bool add);
void vnni_prelude(CEmitBase& c);
std::string vnni_guarded(const std::string& body);
// Rows of int8 [rows][k] as int32 lanes of 4 taps (byte i = tap 4 k4 + i,
// 0 past k): the broadcast operand of vpdpbusd.
std::vector<int32_t> pack_quads(const int8_t* w, int64_t rows, int64_t k);

// ---- QConv's C emitter (qconv_emit.cc) ----
struct QConvSpec {
  nn::ConvProblem p;  // 1-D or 2-D
  int32_t x_zp = 0;
  Requant rq;
};
Status emit_qconv(CEmitContext& c, const QConvSpec& s);

// The int8 depthwise form for CPUs with AVX-512 VBMI and VNNI
// (q8_depthwise_emit.cc): where it applies (one input and one output channel
// per group, 8-bit X and Y, constant weights, a top-level node, bound[oc] =
// max |acc + bias| within int32, an exact vector rescale, 16 outputs' taps
// within 64 bytes of X), emits `#if ... if (CPU) { all of Y } else #endif`
// and returns true: the caller's code follows as the else branch. bias: the
// folded bias per channel (b - x_zp * sum w).
bool emit_q8_depthwise_vbmi(CEmitContext& c, const QConvSpec& s, const std::vector<int64_t>& bias,
                            const std::vector<int64_t>& bound);

// A 1-D or 2-D conv window seen as 2-D (qconv_im2col_emit.cc).
struct Plane {
  int64_t H, W, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, OH, OW;
};
Plane plane_of(const nn::Window& w);
// Writes col[(ic, kh, kw) * nb + r * OW + ow] = X at the tap's position
// (x_zp outside X) for output rows [oh0, oh0 + rows) of one group: `x` a C
// expression of the group's first input plane (of type `xt`), col the
// scratch buffer.
struct Im2colSpec {
  Plane g;
  int64_t cin_g = 1, nb = 0;
  std::string xt, x, col;
  int32_t x_zp = 0;
};
void emit_qconv_im2col(CEmitContext& c, const Im2colSpec& s, const std::string& oh0, int64_t rows);

}  // namespace weec::qop
