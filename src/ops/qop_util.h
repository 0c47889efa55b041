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

// ---- QConv's C emitter (qconv_emit.cc) ----
struct QConvSpec {
  nn::ConvProblem p;  // 1-D or 2-D
  int32_t x_zp = 0;
  Requant rq;
};
Status emit_qconv(CEmitContext& c, const QConvSpec& s);

}  // namespace weec::qop
