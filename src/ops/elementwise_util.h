// Helpers shared by the elementwise op files (unary_math.cc, activations.cc,
// compare_logic.cc, variadic.cc, cast.cc): dtype classes, a unary map that
// handles f16/bf16 by computing in f32, and type lookup for import hooks.
#pragma once

#include <limits>
#include <set>
#include <type_traits>

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

}  // namespace weec
