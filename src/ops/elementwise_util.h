// Helpers shared by the elementwise op files (unary_math.cc, activations.cc,
// compare_logic.cc, variadic.cc, cast.cc): dtype classes, a unary map that
// handles f16/bf16 by computing in f32, type lookup for import hooks, and
// the C-emission pieces they share (wrapping integer arithmetic, saturating
// float->int conversion, clamps and comparisons as static helper functions).
#pragma once

#include <limits>
#include <set>
#include <type_traits>

#include "ops/c_emit.h"
#include "ops/op_util.h"
#include "ops/registry.h"

namespace weec {

// Which element types an op accepts (ONNX type constraints, opsets 1-17).
enum class Accepts { Float, FloatOrSignedInt, Numeric, Bool };

inline bool accepts(Accepts a, DType t) {
  switch (a) {
    case Accepts::Float:
      return is_float(t);
    case Accepts::FloatOrSignedInt:
      return is_float(t) || (is_integer(t) && is_signed(t));
    case Accepts::Numeric:
      return is_float(t) || is_integer(t);
    case Accepts::Bool:
      return t == DType::Bool;
  }
  return false;
}

inline std::string_view accepts_name(Accepts a) {
  switch (a) {
    case Accepts::Float:
      return "a floating-point";
    case Accepts::FloatOrSignedInt:
      return "a floating-point or signed integer";
    case Accepts::Numeric:
      return "a numeric";
    case Accepts::Bool:
      return "a bool";
  }
  return "?";
}

inline Status check_accepts(const NodeContext& ctx, Accepts a, DType t, size_t input = 0) {
  if (accepts(a, t)) return Status::ok();
  return ctx.error("{} has dtype {}, expected {} dtype", ctx.input_desc(input), dtype_name(t),
                   accepts_name(a));
}

// Same type as input 0 after checking its dtype.
inline Status infer_unary_same(InferContext& ctx, Accepts a) {
  WEEC_TRY(check_accepts(ctx, a, ctx.input_type(0).dtype));
  return infer_same_as_input0(ctx);
}

// out[i] = f(x[i]) for a tensor `x` of the same dtype as the output. f is a
// generic callable invoked with float/double (f16/bf16 go through f32 and are
// rounded once) and, when kInts, with the integer storage types as well.
template <bool kInts, typename F>
Expected<Tensor> map_unary(const Tensor& x0, F&& f) {
  bool half = is_half(x0.dtype());
  Tensor x = half ? to_f32(x0) : x0;
  Tensor out(x.dtype(), x.dims());
  Status st = visit_numeric(x.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    constexpr bool kFloat = std::is_floating_point_v<T>;
    constexpr bool kInt = std::is_integral_v<T> && !std::is_same_v<T, bool>;
    if constexpr (kFloat || (kInts && kInt)) {
      const T* in = x.data<T>();
      T* o = out.data<T>();
      for (int64_t i = 0; i < x.numel(); ++i) o[i] = f(in[i]);
      return Status::ok();
    } else {
      return Status::error(fmt::format("dtype {} is not supported", dtype_name(x.dtype())));
    }
  });
  if (!st) return st;
  return half ? from_f32(out, x0.dtype()) : out;
}

// Unsigned type at least as wide as int, so integer +, -, * done in it wrap
// (two's complement) instead of overflowing: signed overflow is undefined, and
// so is uint16 * uint16 after promotion to int. T(W(a) * W(b)).
template <typename T>
using WrapT = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

// ONNX Cast of a whole tensor to `to` (rules at the top of cast.cc). Errors
// (unparsable strings) carry no node context.
Expected<Tensor> onnx_cast(const Tensor& in, DType to);

// double -> integer T without undefined behaviour: truncates toward zero,
// saturates out-of-range values and maps NaN to 0.
template <typename T>
T saturate_cast(double d) {
  static_assert(std::is_integral_v<T>);
  if constexpr (std::is_same_v<T, bool>) {
    return d != 0;  // NaN != 0 is true, as C++ and numpy
  } else {
    if (std::isnan(d)) return T(0);
    // Bounds as exact doubles: lowest is 0 or -2^(bits-1); one past max is 2^bits or 2^(bits-1).
    constexpr double lo = (double)std::numeric_limits<T>::lowest();
    constexpr double hi = std::is_signed_v<T> ? -lo : 2.0 * ((double)(std::numeric_limits<T>::max() / 2 + 1));
    d = std::trunc(d);
    if (d <= lo) return std::numeric_limits<T>::lowest();
    if (d >= hi) return std::numeric_limits<T>::max();
    return static_cast<T>(d);
  }
}

// ---- C emission (scalar forms of the elementwise ops) ----
//
// Helper functions rather than inline expressions where an operand might be a
// literal: the backend substitutes constant scalars, and `x < 0` on an
// unsigned or `b > 1` on a bool is then a -Wtype-limits / -Wbool-compare
// error under -Werror. Helpers are `static inline`, so gcc inlines them and
// unused ones draw no warning.

// Names a dtype in helper function names: "float", "double", "int8", "uint64", "bool".
inline std::string c_suffix(DType t) {
  std::string s = c_type(t);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, "_t") == 0) s.resize(s.size() - 2);
  return s;
}

// f32/f64 (the float dtypes that reach the C backend).
inline bool c_is_float(DType t) { return t == DType::F32 || t == DType::F64; }

// `a op b` (op one of + - *) with the kernel's two's-complement wrap-around:
// signed overflow is undefined in C, and uint16 * uint16 overflows int after
// promotion, so those go through an unsigned type. The result has type t.
inline std::string c_wrap_arith(char op, const std::string& a, const std::string& b, DType t) {
  switch (t) {
    case DType::F32:
    case DType::F64:
    case DType::U32:
    case DType::U64:
      return fmt::format("({} {} {})", a, op, b);
    case DType::I32:
    case DType::U16:
      return fmt::format("(({})((uint32_t){} {} (uint32_t){}))", c_type(t), a, op, b);
    case DType::I64:
      return fmt::format("((int64_t)((uint64_t){} {} (uint64_t){}))", a, op, b);
    default:  // int8, uint8, int16: int arithmetic cannot overflow; narrowing wraps
      return fmt::format("(({})({} {} {}))", c_type(t), a, op, b);
  }
}

// -x with wrap-around (Neg(INT_MIN) == INT_MIN), for signed integers.
inline std::string c_wrap_neg(const std::string& x, DType t) {
  return fmt::format("(({})(0ULL - (uint64_t){}))", c_type(t), x);
}

// Name of `static inline T weec_sat_T(double d)`: saturate_cast<T> above
// (truncate toward zero, saturate out-of-range and +-inf, NaN -> 0; bool: d != 0).
inline std::string c_saturate_fn(CEmitBase& c, DType to) {
  const std::string name = "weec_sat_" + c_suffix(to), T = c_type(to);
  if (to == DType::Bool)
    return c.helper(name, fmt::format("static inline bool {}(double d) {{ return d != 0; }}\n", name));
  const int bits = (int)dtype_size(to) * 8;
  const bool sgn = is_signed(to);
  // Bounds as exact doubles: lowest is 0 or -2^(bits-1); one past max is 2^bits or 2^(bits-1).
  const double lo = sgn ? -std::ldexp(1.0, bits - 1) : 0.0;
  const double hi = std::ldexp(1.0, sgn ? bits - 1 : bits);
  const std::string isnan = c.math("isnan", DType::F64);
  // (T)d truncates toward zero and is defined for lo < d < hi.
  return c.helper(name, fmt::format("static inline {0} {1}(double d) {{\n"
                                    "  if ({2}(d)) return 0;\n"
                                    "  if (d <= {3}) return {4};\n"
                                    "  if (d >= {5}) return {6};\n"
                                    "  return ({0})d;\n"
                                    "}}\n",
                                    T, name, isnan, c_literal(lo, DType::F64), c_lowest(to),
                                    c_literal(hi, DType::F64), c_highest(to)));
}

// Name of `static inline T weec_clamp_T(T v, T lo, T hi)`: clamp_nan (hi wins
// if lo > hi, as numpy.clip; NaN passes through).
inline std::string c_clamp_fn(CEmitBase& c, DType t) {
  const std::string name = "weec_clamp_" + c_suffix(t);
  return c.helper(name, fmt::format("static inline {0} {1}({0} v, {0} lo, {0} hi) {{\n"
                                    "  v = v < lo ? lo : v;\n"
                                    "  return v > hi ? hi : v;\n"
                                    "}}\n",
                                    c_type(t), name));
}

// `a cmp b` for an ordered comparison ("<", ">", "<=", ">="). Floats compare
// inline (NaN: false); integers and bools through a helper so a literal
// operand cannot make the comparison a compile-time constant.
inline std::string c_compare(CEmitBase& c, const std::string& cmp, const std::string& a, const std::string& b,
                             DType t) {
  if (c_is_float(t)) return fmt::format("({} {} {})", a, cmp, b);
  std::string op = cmp == "<" ? "lt" : cmp == ">" ? "gt" : cmp == "<=" ? "le" : "ge";
  const std::string name = fmt::format("weec_{}_{}", op, c_suffix(t));
  c.helper(name,
           fmt::format("static inline bool {1}({0} a, {0} b) {{ return a {2} b; }}\n", c_type(t), name, cmp));
  return fmt::format("{}({}, {})", name, a, b);
}

}  // namespace weec
