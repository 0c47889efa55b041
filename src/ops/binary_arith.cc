// Add, Sub, Mul, Div, Pow, Mod, BitShift: binary arithmetic with numpy
// broadcasting. f16/bf16 compute in f32 and round once. Integer Div truncates
// toward zero (as ONNX Runtime); integer Mod follows the divisor's sign unless
// fmod=1. Opset < 7 used explicit `broadcast`/`axis` attributes; the import
// hook rewrites those into numpy broadcasting with an Unsqueeze.
#include "ops/op_util.h"

namespace weec {

namespace {

enum class Arith { Add, Sub, Mul, Div, Pow, Mod };

template <typename T>
T int_mod(T a, T b, bool fmod) {
  if (b == 0) return 0;  // undefined in ONNX; avoid the trap
  T r = a % b;
  if constexpr (std::is_signed_v<T>)
    if (!fmod && r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

template <typename T>
T apply(Arith op, T a, T b, bool fmod) {
  switch (op) {
    case Arith::Add:
      return a + b;
    case Arith::Sub:
      return a - b;
    case Arith::Mul:
      return a * b;
    case Arith::Div:
      if constexpr (std::is_integral_v<T>) {
        if (b == 0) return 0;
      }
      return a / b;
    case Arith::Mod:
      if constexpr (std::is_integral_v<T>) {
        return int_mod(a, b, fmod);
      } else {
        if (fmod) return std::fmod(a, b);
        T r = std::fmod(a, b);  // numpy-style: result takes the divisor's sign
        if (r != 0 && ((r < 0) != (b < 0))) r += b;
        return r;
      }
    case Arith::Pow:
      return T(std::pow((double)a, (double)b));
  }
  return T(0);
}

Status arith_kernel(KernelContext& ctx, Arith op) {
  const Tensor& a0 = ctx.input(0);
  const Tensor& b0 = ctx.input(1);
  bool fmod = op == Arith::Mod && ctx.attrs.i("fmod") != 0;
  DType out_type = a0.dtype();
  if (op == Arith::Pow && a0.dtype() != b0.dtype()) {
    // Pow's exponent may have its own type: compute in f64, cast to the base type.
    Tensor a = convert(a0, DType::F64), b = convert(b0, DType::F64);
    auto r = broadcast_binary<double, double, double>(a, b, DType::F64,
                                                      [](double x, double y) { return std::pow(x, y); });
    if (!r) return ctx.error("{}", r.status().message());
    ctx.outputs[0] = convert(*r, out_type);
    return Status::ok();
  }
  if (a0.dtype() != b0.dtype())
    return ctx.error("operand dtypes differ: {} and {}", dtype_name(a0.dtype()), dtype_name(b0.dtype()));
  bool half = is_half(out_type);
  Tensor a = half ? to_f32(a0) : a0, b = half ? to_f32(b0) : b0;
  Status st = visit_numeric(a.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      return ctx.error("bool operands are not supported");
    } else {
      auto r = broadcast_binary<T, T, T>(a, b, a.dtype(), [&](T x, T y) { return apply(op, x, y, fmod); });
      if (!r) return ctx.error("{}", r.status().message());
      ctx.outputs[0] = half ? from_f32(*r, out_type) : std::move(*r);
      return Status::ok();
    }
  });
  return st;
}

Status infer_arith(InferContext& ctx) {
  if (ctx.node.op != OpKind::Pow && ctx.input_type(0).dtype != ctx.input_type(1).dtype)
    return ctx.error("operand dtypes differ: {} and {}", dtype_name(ctx.input_type(0).dtype),
                     dtype_name(ctx.input_type(1).dtype));
  return infer_broadcast(ctx);
}

int64_t arith_macs(const Node& n) {
  const Shape& s = n.outputs[0]->type.shape;
  return s.is_static() ? numel_of(s.static_dims()) : 0;
}

OpSchema arith_schema(OpKind kind, std::string_view onnx, KernelFn kernel, ImportFn import,
                      std::string_view doc) {
  OpSchema s{kind, onnx};
  s.min_inputs = s.max_inputs = 2;
  s.fusion = FusionKind::Broadcast;
  s.infer = infer_arith;
  s.kernel = kernel;
  s.macs = arith_macs;
  s.import = import;
  s.doc = doc;
  return s;
}

}  // namespace

#define WEEC_ARITH_OP(Name, doc)                                                            \
  const OpSchema& schema_##Name() {                                                         \
    static const OpSchema s = arith_schema(                                                 \
        OpKind::Name, #Name, [](KernelContext& c) { return arith_kernel(c, Arith::Name); }, \
        [](ImportContext& c) { return import_legacy_broadcast(c, OpKind::Name); }, doc);    \
    return s;                                                                               \
  }
WEEC_ARITH_OP(Add, "a + b, broadcasting")
WEEC_ARITH_OP(Sub, "a - b, broadcasting")
WEEC_ARITH_OP(Mul, "a * b, broadcasting")
WEEC_ARITH_OP(Div, "a / b, broadcasting; integers truncate toward zero")
WEEC_ARITH_OP(Pow, "a ^ b, broadcasting; exponent may have another dtype")
#undef WEEC_ARITH_OP

const OpSchema& schema_Mod() {
  static const OpSchema s = [] {
    OpSchema m = arith_schema(
        OpKind::Mod, "Mod", [](KernelContext& c) { return arith_kernel(c, Arith::Mod); }, nullptr,
        "remainder; sign of divisor unless fmod=1 (C fmod)");
    m.attrs = {attr_int("fmod", 0)};
    return m;
  }();
  return s;
}

namespace {
Status bitshift_kernel(KernelContext& ctx) {
  bool left = ctx.attrs.s("direction") == "LEFT";
  const Tensor& a = ctx.input(0);
  if (a.dtype() != ctx.input(1).dtype() || !is_integer(a.dtype()) || is_signed(a.dtype()))
    return ctx.error("BitShift needs two unsigned integer operands of one dtype");
  return visit_numeric(a.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_integral_v<T> || std::is_same_v<T, bool>) {
      return ctx.error("BitShift needs unsigned integers");
    } else {
      auto r = broadcast_binary<T, T, T>(a, ctx.input(1), a.dtype(), [&](T x, T y) -> T {
        if (y >= (T)(sizeof(T) * 8)) return 0;  // shifting out every bit
        return left ? T(x << y) : T(x >> y);
      });
      if (!r) return ctx.error("{}", r.status().message());
      ctx.outputs[0] = std::move(*r);
      return Status::ok();
    }
  });
}
}  // namespace

const OpSchema& schema_BitShift() {
  static const OpSchema s = [] {
    OpSchema m = arith_schema(OpKind::BitShift, "BitShift", bitshift_kernel, nullptr,
                              "logical shift of unsigned integers");
    m.since_opset = 11;
    m.attrs = {attr_required("direction", Attribute::Kind::String)};
    return m;
  }();
  return s;
}

}  // namespace weec
