// Add, Sub, Mul, Div, Pow, Mod, BitShift: binary arithmetic with numpy
// broadcasting. f16/bf16 compute in f32 and round once. Integers wrap (two's
// complement); integer Div truncates toward zero (as ONNX Runtime), x / 0 = 0
// and MIN / -1 = MIN; integer Mod follows the divisor's sign unless fmod=1,
// x % 0 = 0; integer Pow computes in double and saturates. Opset < 7 used
// explicit `broadcast`/`axis` attributes; the import hook rewrites those into
// numpy broadcasting with an Unsqueeze. The C forms (arith_emit) reproduce
// all of this exactly.
#include "ops/elementwise_util.h"
#include "ops/grad.h"

namespace weec {

namespace {

enum class Arith { Add, Sub, Mul, Div, Pow, Mod };

template <typename T>
T int_mod(T a, T b, bool fmod) {
  if (b == 0) return 0;  // undefined in ONNX; avoid the trap
  if constexpr (std::is_signed_v<T>)
    if (b == -1) return 0;  // MIN % -1 traps too
  T r = a % b;
  if constexpr (std::is_signed_v<T>)
    if (!fmod && r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

template <typename T>
T apply(Arith op, T a, T b, bool fmod) {
  if constexpr (std::is_integral_v<T>) {
    using W = WrapT<T>;
    switch (op) {
      case Arith::Add:
        return T(W(a) + W(b));
      case Arith::Sub:
        return T(W(a) - W(b));
      case Arith::Mul:
        return T(W(a) * W(b));
      case Arith::Div:
        if (b == 0) return 0;
        if constexpr (std::is_signed_v<T>)
          if (b == -1) return T(W(0) - W(a));  // MIN / -1 wraps to MIN instead of trapping
        return T(a / b);
      case Arith::Mod:
        return int_mod(a, b, fmod);
      case Arith::Pow:
        // Out-of-range results saturate (a plain conversion would be undefined).
        return saturate_cast<T>(std::pow((double)a, (double)b));
    }
    return T(0);
  } else {
    switch (op) {
      case Arith::Add:
        return a + b;
      case Arith::Sub:
        return a - b;
      case Arith::Mul:
        return a * b;
      case Arith::Div:
        return a / b;
      case Arith::Mod: {
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
}

Status arith_kernel(KernelContext& ctx, Arith op) {
  const Tensor& a0 = ctx.input(0);
  const Tensor& b0 = ctx.input(1);
  bool fmod = op == Arith::Mod && ctx.attrs.i("fmod") != 0;
  DType out_type = a0.dtype();
  if (op == Arith::Pow && a0.dtype() != b0.dtype()) {
    // Pow's exponent may have its own type: compute in f64, cast to the base
    // type (onnx_cast: integers truncate and saturate).
    Tensor a = convert(a0, DType::F64), b = convert(b0, DType::F64);
    auto r = broadcast_binary<double, double, double>(a, b, DType::F64,
                                                      [](double x, double y) { return std::pow(x, y); });
    if (!r) return ctx.error("{}", r.status().message());
    auto cast = onnx_cast(*r, out_type);
    if (!cast) return ctx.error("{}", cast.status().message());
    ctx.outputs[0] = std::move(*cast);
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

// ---- C scalar forms ----

// Name of a static helper `T weec_<op>_T(T a, T b)` with body `body` (uses a, b).
std::string binary_helper(CScalarContext& c, const std::string& op, DType t, const std::string& body) {
  const std::string name = fmt::format("weec_{}_{}", op, c_suffix(t));
  return c.helper(name,
                  fmt::format("static inline {0} {1}({0} a, {0} b) {{\n{2}}}\n", c_type(t), name, body));
}

// Integer division truncating toward zero; x / 0 = 0 (the kernel's guard) and
// MIN / -1 wraps to MIN (the one signed quotient that overflows).
std::string int_div(CScalarContext& c, DType t) {
  std::string body = "  if (b == 0) return 0;\n";
  if (is_signed(t)) body += fmt::format("  if (b == -1) return {};\n", c_wrap_neg("a", t));
  return binary_helper(c, "div", t, body + "  return a / b;\n");
}

// int_mod: x % 0 = 0; the result takes the divisor's sign unless fmod.
// b == -1 always leaves 0 (and MIN % -1 would trap).
std::string int_mod_fn(CScalarContext& c, DType t, bool fmod) {
  std::string body = "  if (b == 0) return 0;\n";
  if (!is_signed(t)) return binary_helper(c, "mod", t, body + "  return a % b;\n");
  body += "  if (b == -1) return 0;\n";
  if (fmod) return binary_helper(c, "fmod", t, body + "  return a % b;\n");
  return binary_helper(c, "mod", t,
                       body + fmt::format("  {} r = a % b;\n"
                                          "  if (r != 0 && ((r < 0) != (b < 0))) r += b;\n"
                                          "  return r;\n",
                                          c_type(t)));
}

// Float Mod: C fmod, or numpy's (the result takes the divisor's sign).
std::string float_mod_fn(CScalarContext& c, DType t, bool fmod) {
  std::string f = c.math("fmod", t);
  if (fmod) return f;
  return binary_helper(c, "mod", t,
                       fmt::format("  {} r = {}(a, b);\n"
                                   "  if (r != 0 && ((r < 0) != (b < 0))) r += b;\n"
                                   "  return r;\n",
                                   c_type(t), f));
}

// Pow in double, converted to the base's dtype (integers saturate where the
// kernel's conversion would be undefined; in range they agree).
std::string pow_expr(CScalarContext& c, const std::string& a, const std::string& b, DType t) {
  std::string p = fmt::format("{}((double){}, (double){})", c.math("pow", DType::F64), a, b);
  if (t == DType::F64) return p;
  if (t == DType::F32) return "((float)" + p + ")";
  return fmt::format("{}({})", c_saturate_fn(c, t), p);
}

bool c_numeric(DType t) { return c_is_float(t) || is_integer(t); }

Expected<std::string> arith_emit(CScalarContext& c, Arith op) {
  const DType t = c.input_dtype(0), tb = c.input_dtype(1);
  const std::string &a = c.in[0], &b = c.in[1];
  if (!c_numeric(t) || !c_numeric(tb))
    return c.error("operand dtypes {} and {} are not supported by the C backend", dtype_name(t),
                   dtype_name(tb));
  if (op == Arith::Pow) return pow_expr(c, a, b, t);
  if (t != tb) return c.error("operand dtypes differ: {} and {}", dtype_name(t), dtype_name(tb));
  switch (op) {
    case Arith::Add:
      return c_wrap_arith('+', a, b, t);
    case Arith::Sub:
      return c_wrap_arith('-', a, b, t);
    case Arith::Mul:
      return c_wrap_arith('*', a, b, t);
    case Arith::Div:
      if (c_is_float(t)) return fmt::format("({} / {})", a, b);
      return fmt::format("{}({}, {})", int_div(c, t), a, b);
    case Arith::Mod: {
      bool fmod = c.attrs.i("fmod") != 0;
      std::string f = c_is_float(t) ? float_mod_fn(c, t, fmod) : int_mod_fn(c, t, fmod);
      return fmt::format("{}({}, {})", f, a, b);
    }
    case Arith::Pow:
      break;
  }
  return c.error("unknown arithmetic op");
}

int64_t arith_macs(const Node& n) {
  const Shape& s = n.outputs[0]->type.shape;
  return s.is_static() ? numel_of(s.static_dims()) : 0;
}

// Gradients (ops/grad.h), each summed back over the axes it was broadcast along.
Status arith_grad(GradContext& c) {
  Value *a = c.x(0), *b = c.x(1), *dy = c.dy(0);
  auto set = [&](size_t i, auto make) {
    if (c.wants(i)) c.set(i, c.unbroadcast(make(), c.dims(c.x(i))));
  };
  switch (c.node.op) {
    case OpKind::Add:
      set(0, [&] { return dy; });
      set(1, [&] { return dy; });
      break;
    case OpKind::Sub:
      set(0, [&] { return dy; });
      set(1, [&] { return c.op(OpKind::Neg, {dy}); });
      break;
    case OpKind::Mul:
      set(0, [&] { return c.op(OpKind::Mul, {dy, b}); });
      set(1, [&] { return c.op(OpKind::Mul, {dy, a}); });
      break;
    case OpKind::Div:  // d(a / b)/db = -y / b
      set(0, [&] { return c.op(OpKind::Div, {dy, b}); });
      set(1, [&] { return c.op(OpKind::Neg, {c.op(OpKind::Div, {c.op(OpKind::Mul, {dy, c.y(0)}), b})}); });
      break;
    default:
      return c.error("no gradient");
  }
  return Status::ok();
}

OpSchema arith_schema(OpKind kind, std::string_view onnx, KernelFn kernel, EmitScalarFn emit, ImportFn import,
                      std::string_view doc) {
  OpSchema s{kind, onnx};
  s.min_inputs = s.max_inputs = 2;
  s.fusion = FusionKind::Broadcast;
  s.infer = infer_arith;
  s.kernel = kernel;
  s.macs = arith_macs;
  s.import = import;
  s.emit_scalar = emit;
  const bool grad = kind == OpKind::Add || kind == OpKind::Sub || kind == OpKind::Mul || kind == OpKind::Div;
  s.grad = grad ? arith_grad : nullptr;
  s.doc = doc;
  return s;
}

}  // namespace

#define WEEC_ARITH_OP(Name, doc)                                                            \
  const OpSchema& schema_##Name() {                                                         \
    static const OpSchema s = arith_schema(                                                 \
        OpKind::Name, #Name, [](KernelContext& c) { return arith_kernel(c, Arith::Name); }, \
        [](CScalarContext& c) { return arith_emit(c, Arith::Name); },                       \
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
        OpKind::Mod, "Mod", [](KernelContext& c) { return arith_kernel(c, Arith::Mod); },
        [](CScalarContext& c) { return arith_emit(c, Arith::Mod); }, nullptr,
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

// Logical shifts; shifting by the width or more gives 0 (a plain C shift
// would be undefined). A helper, so a literal count cannot draw a warning.
Expected<std::string> bitshift_emit(CScalarContext& c) {
  const DType t = c.input_dtype(0);
  if (t != c.input_dtype(1) || !is_integer(t) || is_signed(t))
    return c.error("BitShift needs two unsigned integer operands of one dtype");
  const bool left = c.attrs.s("direction") == "LEFT";
  // uint8/uint16 promote to int: a << (width - 1) still fits, so no overflow.
  std::string body =
      fmt::format("  return b >= {} ? 0 : ({})(a {} b);\n", dtype_size(t) * 8, c_type(t), left ? "<<" : ">>");
  return fmt::format("{}({}, {})", binary_helper(c, left ? "shl" : "shr", t, body), c.in[0], c.in[1]);
}
}  // namespace

const OpSchema& schema_BitShift() {
  static const OpSchema s = [] {
    OpSchema m = arith_schema(OpKind::BitShift, "BitShift", bitshift_kernel, bitshift_emit, nullptr,
                              "logical shift of unsigned integers");
    m.since_opset = 11;
    m.attrs = {attr_required("direction", Attribute::Kind::String)};
    return m;
  }();
  return s;
}

}  // namespace weec
